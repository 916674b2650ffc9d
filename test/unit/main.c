/*
 * Shared main for every unit-test binary: each test_<module>.c provides
 * pt_test_suite(); this runs it in fork mode and prints Check's summary.
 */
#include <check.h>
#include <stdlib.h>

Suite *pt_test_suite(void);

int
main(void)
{
    SRunner *sr;
    int      failed;

    sr = srunner_create(pt_test_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
