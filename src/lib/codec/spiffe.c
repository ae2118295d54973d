/* spiffe.c — placeholder until written. */
