// go-poller — the comparison point for the agent's idle cost in bench/bench_agent.sh: the
// smallest Go program that does what the agent's two pollers do on the wire, and nothing more.
// Over one net/http client with mutual TLS 1.3 (client certificate and key, the fleet CA as the
// only trust anchor) it long-polls GET /api/v1/conductor/policy/latest and
// /api/v1/conductor/remote-kill/latest, each in its own goroutine, with If-None-Match (the last
// ETag it got) and Prefer: wait=N; a 200 reads the body up to the agent's cap (1 MiB bundle,
// 64 KiB kill) and takes the ETag; 204/304 poll again at once; an error waits N seconds.
//
// It must never be mistaken for a follower: it verifies no signature, applies nothing, writes
// nothing, sends no status report. It talks only to the URL it is given (the benchmark gives it
// the leader on 127.0.0.1). Standard library only, so `go build` needs no network.
//
// usage: go-poller -leader https://127.0.0.1:PORT -cert C -key K -ca CA [-wait 30]
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func poll(c *http.Client, url string, wait int, limit int64, name string) {
	etag := ""
	for {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			log.Fatal(err)
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		req.Header.Set("Prefer", fmt.Sprintf("wait=%d", wait))
		resp, err := c.Do(req)
		if err != nil {
			log.Printf("%s: %v", name, err)
			time.Sleep(time.Duration(wait) * time.Second)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body.Close()
		switch {
		case err != nil:
			log.Printf("%s: %v", name, err)
			time.Sleep(time.Duration(wait) * time.Second)
		case resp.StatusCode == 200 && int64(len(body)) <= limit:
			etag = resp.Header.Get("ETag")
			log.Printf("%s: 200, %d bytes, etag %s", name, len(body), etag)
		case resp.StatusCode == 204 || resp.StatusCode == 304:
			// a held poll ran its course: ask again at once
		default:
			log.Printf("%s: status %d", name, resp.StatusCode)
			time.Sleep(time.Duration(wait) * time.Second)
		}
	}
}

func main() {
	leader := flag.String("leader", "", "https://HOST:PORT")
	cert := flag.String("cert", "", "client certificate (PEM)")
	key := flag.String("key", "", "client key (PEM)")
	ca := flag.String("ca", "", "fleet CA certificate (PEM)")
	wait := flag.Int("wait", 30, "long-poll wait in seconds")
	flag.Parse()
	if *leader == "" || *cert == "" || *key == "" || *ca == "" {
		flag.Usage()
		os.Exit(2)
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		log.Fatal(err)
	}
	pem, err := os.ReadFile(*ca)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatal("no certificate in ", *ca)
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{pair},
			RootCAs:      pool,
			MinVersion:   tls.VersionTLS13,
		},
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 2,
	}
	c := &http.Client{Transport: tr, Timeout: time.Duration(*wait+30) * time.Second}
	log.Printf("polling %s every held %d s", *leader, *wait)
	go poll(c, *leader+"/api/v1/conductor/remote-kill/latest", *wait, 64<<10, "kill")
	poll(c, *leader+"/api/v1/conductor/policy/latest", *wait, 1<<20, "policy")
}
