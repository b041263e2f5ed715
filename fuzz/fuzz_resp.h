
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * What the targets that feed RESP bytes to hiredis' reply reader share.
 */


#ifndef _FUZZ_RESP_H_INCLUDED_
#define _FUZZ_RESP_H_INCLUDED_


#define FUZZ_MAX_ELEMENTS  1024


/*
 * hiredis 0.14 allocates an array of the announced size as soon as it
 * reads "*<n>\r\n" (8 bytes per element, no limit): "*888888888" asks for
 * 7 GB, an out-of-memory of hiredis's, not of the module's.  Inputs that
 * announce more than FUZZ_MAX_ELEMENTS elements are skipped.
 */

static ngx_uint_t
fuzz_huge_array(const uint8_t *p, size_t size)
{
    size_t         n;
    const uint8_t  *end;

    end = p + size;

    for ( /* void */ ; p < end; p++) {
        if (*p != '*') {
            continue;
        }

        n = 0;

        while (p + 1 < end && p[1] >= '0' && p[1] <= '9') {
            p++;
            n = n * 10 + (*p - '0');

            if (n > FUZZ_MAX_ELEMENTS) {
                return 1;
            }
        }
    }

    return 0;
}


#endif /* _FUZZ_RESP_H_INCLUDED_ */
