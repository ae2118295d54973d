/* fleetclient.c — placeholder until written. */
