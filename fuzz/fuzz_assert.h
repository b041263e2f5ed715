
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * fuzz_assert(): a check of a fuzz target that aborts, naming the line,
 * when it fails, so that libFuzzer saves the input.  Apart from
 * fuzz_common.h because a target may need nothing else.
 */


#ifndef _FUZZ_ASSERT_H_INCLUDED_
#define _FUZZ_ASSERT_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>


#define fuzz_assert(expr)                                                     \
    if (!(expr)) {                                                            \
        fprintf(stderr, "%s:%d: fuzz check failed: %s\n",                     \
                __FILE__, __LINE__, #expr);                                   \
        abort();                                                              \
    }


#endif /* _FUZZ_ASSERT_H_INCLUDED_ */
