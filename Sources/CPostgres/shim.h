#ifndef CPOSTGRES_SHIM_H
#define CPOSTGRES_SHIM_H
#include <libpq-fe.h>

/* libpq's diagnostic field codes are char-literal macros Swift cannot import. */
static const int CPG_DIAG_SQLSTATE = 'C';
static const int CPG_DIAG_MESSAGE_PRIMARY = 'M';
static const int CPG_DIAG_MESSAGE_DETAIL = 'D';
static const int CPG_DIAG_MESSAGE_HINT = 'H';
static const int CPG_DIAG_SEVERITY = 'S';
#endif
