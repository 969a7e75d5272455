/*
 * ctp_util.h: small helpers the programs share.
 */
#ifndef CTP_UTIL_H
#define CTP_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read a whole file ("-" is standard input) into a malloc'ed buffer with a
 * NUL after the data; refuses files above max octets (CTP_E_LIMIT).
 */
int ctp_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);

/*
 * Input that is either raw octets or hex text: when every octet is a hex
 * digit or white space (and it is not empty), decode the hex in place.  A
 * CXTP message never starts with a hex digit (its first octet is 0x20 |
 * type), so the two forms cannot be confused.  0, or CTP_E_VALUE for hex
 * text with an odd number of digits.
 */
int ctp_maybe_unhex(uint8_t *buf, size_t *len);

#endif
