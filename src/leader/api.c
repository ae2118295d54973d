/* api.c — placeholder until written. */
