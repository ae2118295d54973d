/* view.c — the read side of the state directory for `warden run --state-dir`. Being written. */
#include "state.h"
