/* store_sqlite.c — placeholder until written. */
