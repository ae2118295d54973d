/* pki.c — placeholder until written. */
