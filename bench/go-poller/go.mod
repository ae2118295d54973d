module warden.bench/go-poller

go 1.19
