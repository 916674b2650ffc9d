/*
 * Unit tests for common/path (levels: their checks and where a name puts a
 * file) and the numbered, unlinked temp files common/file makes in them.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "common/path.h"
#include "common/pool.h"

static pt_log_t test_log;

static pt_str_t
str(const char *s)
{
    pt_str_t v = { strlen(s), (u_char *) s };

    return v;
}

/* Set the levels of `p` from their texts; PT_OK if all were valid. */
static int
set_levels(pt_path_t *p, const char **levels, int n)
{
    pt_str_t v;
    int      i;

    memset(p, 0, sizeof(*p));
    for (i = 0; i < n; i++) {
        v = str(levels[i]);
        if (pt_path_set_level(p, (pt_uint_t) i, &v) != PT_OK) {
            return PT_ERROR;
        }
    }
    return PT_OK;
}

START_TEST(levels_valid)
{
    static const char *ok[][3] = {
        { "1", NULL, NULL }, { "1", "2", NULL }, { "2", "2", "2" },
        { "3", NULL, NULL }, { "10", NULL, NULL }, { "4", "4", "2" },
        { "01", NULL, NULL },
    };
    static const int   n[] = { 1, 2, 3, 1, 1, 3, 1 };
    pt_path_t          p;
    size_t             i;

    for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
        ck_assert_msg(set_levels(&p, ok[i], n[i]) == PT_OK, "case %zu", i);
    }
    set_levels(&p, ok[1], 2);
    ck_assert_uint_eq(p.level[0], 1);
    ck_assert_uint_eq(p.level[1], 2);
    ck_assert_uint_eq(p.level[2], 0);
    ck_assert_uint_eq(p.len, 5);   /* "/d/dd" */
}
END_TEST

START_TEST(levels_invalid)
{
    static const char *bad[][3] = {
        { "0", NULL, NULL }, { "x", NULL, NULL }, { "-1", NULL, NULL },
        { "11", NULL, NULL }, { "2", "9", NULL }, { "4", "4", "3" },
        { "1", "", NULL },
    };
    static const int   n[] = { 1, 1, 1, 1, 2, 3, 2 };
    pt_path_t          p;
    size_t             i;

    for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
        ck_assert_msg(set_levels(&p, bad[i], n[i]) == PT_ERROR, "case %zu",
                      i);
    }
    memset(&p, 0, sizeof(p));
    pt_str_t v = str("1");
    ck_assert_int_eq(pt_path_set_level(&p, PT_PATH_MAX_LEVEL, &v), PT_ERROR);
}
END_TEST

/* The full name of `file` in "/t" with the given levels. */
static const char *
hashed(const char **levels, int n, const char *file)
{
    static char buf[128];
    pt_path_t   p;
    size_t      len;

    ck_assert_int_eq(set_levels(&p, levels, n), PT_OK);
    p.name = str("/t");
    len = pt_path_file_len(&p, strlen(file));
    ck_assert_uint_lt(len, sizeof(buf));
    memset(buf, '?', sizeof(buf));
    memcpy(buf, "/t", 2);
    memcpy(buf + len - strlen(file), file, strlen(file) + 1);
    pt_path_hash_name(&p, (u_char *) buf, strlen(file));
    return buf;
}

START_TEST(hash_name_order)
{
    static const char *l12[] = { "1", "2" }, *l21[] = { "2", "1" },
                      *l3[] = { "3" }, *l111[] = { "1", "1", "1" },
                      *l10[] = { "10" };

    /* level 1 is the name's tail, level 2 the characters before it */
    ck_assert_str_eq(hashed(l12, 2, "0000000123"), "/t/3/12/0000000123");
    ck_assert_str_eq(hashed(l21, 2, "0000000123"), "/t/23/1/0000000123");
    ck_assert_str_eq(hashed(l3, 1, "0000004567"), "/t/567/0000004567");
    ck_assert_str_eq(hashed(l111, 3, "9876543210"),
                     "/t/0/1/2/9876543210");
    ck_assert_str_eq(hashed(l10, 1, "0123456789"),
                     "/t/0123456789/0123456789");
    ck_assert_str_eq(hashed(NULL, 0, "0000000001"), "/t/0000000001");
    /* a cache key's hash: nginx's c/ba example for levels=1:2 */
    ck_assert_str_eq(hashed(l12, 2, "b6f1e5d2a3c4e8f9a0b1c2d3e4f5a29c"),
                     "/t/c/29/b6f1e5d2a3c4e8f9a0b1c2d3e4f5a29c");
}
END_TEST

static int
count_entries(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    int            n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

START_TEST(temp_file_levels)
{
    static const char *l12[] = { "1", "2" };
    char        tmpl[] = "/tmp/pt_test_path_XXXXXX", sub[128];
    pt_pool_t  *pool = pt_pool_create(4096, &test_log);
    pt_path_t   p;
    pt_file_t  *f1, *f2;
    struct stat st;
    char       *dir = mkdtemp(tmpl);

    ck_assert_ptr_nonnull(dir);
    ck_assert_int_eq(set_levels(&p, l12, 2), PT_OK);
    p.name = str(dir);
    *pt_file_temp_number = 122;
    f1 = pt_file_temp(pool, &p, &test_log);
    ck_assert_ptr_nonnull(f1);
    f2 = pt_file_temp(pool, &p, &test_log);
    ck_assert_ptr_nonnull(f2);
    ck_assert_int_ge(f1->fd, 0);
    ck_assert_int_eq(write(f1->fd, "abc", 3), 3);
    snprintf(sub, sizeof(sub), "%s/3/12/0000000123", dir);
    ck_assert_str_eq((char *) f1->name.data, sub);
    /* unlinked at once: the level directories stay, empty */
    ck_assert_int_eq(stat(sub, &st), -1);
    snprintf(sub, sizeof(sub), "%s/3/12", dir);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(count_entries(sub), 0);
    snprintf(sub, sizeof(sub), "%s/4/12", dir);
    ck_assert_int_eq(count_entries(sub), 0);
    pt_pool_destroy(pool);
    ck_assert_int_eq(system("rm -rf /tmp/pt_test_path_*") == -1, 0);
}
END_TEST

START_TEST(temp_file_missing_dir)
{
    static const char *l1[] = { "1" };
    pt_pool_t *pool = pt_pool_create(4096, &test_log);
    pt_path_t  p;

    ck_assert_int_eq(set_levels(&p, l1, 1), PT_OK);
    p.name = str("/nonexistent/pt_test_path");
    ck_assert_ptr_null(pt_file_temp(pool, &p, &test_log));
    pt_pool_destroy(pool);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("path");
    TCase *tc = tcase_create("levels");

    test_log.fd = 2;
    test_log.level = PT_LOG_ERR;
    tcase_add_test(tc, levels_valid);
    tcase_add_test(tc, levels_invalid);
    tcase_add_test(tc, hash_name_order);
    tcase_add_test(tc, temp_file_levels);
    tcase_add_test(tc, temp_file_missing_dir);
    suite_add_tcase(s, tc);
    return s;
}
