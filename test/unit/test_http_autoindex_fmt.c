/*
 * Unit tests for worker/http_autoindex_fmt. The expected bodies are nginx
 * 1.22.1's, byte for byte: a directory holding the entries of dir[] (made
 * with those names, sizes - large ones sparse - and mtimes, plus a fifo)
 * listed through locations with "autoindex on;" and the variants named
 * above each body; localtime ran with TZ=Asia/Kolkata (+05:30).
 */
#include <check.h>
#include <string.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/pool.h"
#include "worker/http_autoindex_fmt.h"

static const struct {
    const char *name;
    pt_uint_t   type;
    long long   size;
    time_t      mtime;
} dir[] = {
    { "s10751",
      PT_AUTOINDEX_FILE, 10751LL, 1768472430 },
    { "&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "a.txt",
      PT_AUTOINDEX_FILE, 1LL, 1768472430 },
    { "s9999",
      PT_AUTOINDEX_FILE, 9999LL, 1768472430 },
    { "ctl\001\t\037x",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "s10752",
      PT_AUTOINDEX_FILE, 10752LL, 1768472430 },
    { "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD",
      PT_AUTOINDEX_DIR, 4096LL, 1768472430 },
    { "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE",
      PT_AUTOINDEX_DIR, 4096LL, 1768472430 },
    { "!#$%&'()*+,-.:;<=>?@[\\]^_`{|}~",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "sp ace&amp<lt>\"q\".txt",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "m1048575",
      PT_AUTOINDEX_FILE, 1048575LL, 1768472430 },
    { "sub",
      PT_AUTOINDEX_DIR, 4096LL, 981173106 },
    { "g12345678901",
      PT_AUTOINDEX_FILE, 12345678901LL, 1768472430 },
    { "bad\377\376utf",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303"
      "\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
      "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303"
      "\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
      "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303"
      "\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
      "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303"
      "\251",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\303\251\303\251\303\251"
      "\303\251\303\251",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "g1073741823",
      PT_AUTOINDEX_FILE, 1073741823LL, 1768472430 },
    { "m1572864",
      PT_AUTOINDEX_FILE, 1572864LL, 1768472430 },
    { "fifo1",
      PT_AUTOINDEX_OTHER, 0LL, 1768472430 },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "Zfile",
      PT_AUTOINDEX_FILE, 0LL, 2159510950 },
    { "g1610612736",
      PT_AUTOINDEX_FILE, 1610612736LL, 1768472430 },
    { "h\303\251llo w\303\266rld.txt",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
      PT_AUTOINDEX_DIR, 4096LL, 1768472430 },
    { "r\rb\010f\014d\177e\033",
      PT_AUTOINDEX_FILE, 0LL, 1768472430 },
    { "dir <&>",
      PT_AUTOINDEX_DIR, 4096LL, 1768472430 },
};

/* GET /t/ */
static const char expect_html_exact[] =
    "<html>\r\n"
    "<head><title>Index of /t/</title></head>\r\n"
    "<body>\r\n"
    "<h1>Index of /t/</h1><hr><pre><a href=\"../\">../</a>\r\n"
    "<a href=\"DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD/\">DDDDDDDD"
    "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD</a> 15-Jan-2026 10:20        "
    "           -\r\n"
    "<a href=\"EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE/\">EEEEEEEEE"
    "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE/</a> 15-Jan-2026 10:20         "
    "          -\r\n"
    "<a href=\"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF/"
    "\">FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF..&gt;</a> 15-Jan-2026"
    " 10:20                   -\r\n"
    "<a href=\"dir%20%3C%26%3E/\">dir &lt;&amp;&gt;/</a>                     "
    "                      15-Jan-2026 10:20                   -\r\n"
    "<a href=\"sub/\">sub/</a>                                               "
    "03-Feb-2001 04:05                   -\r\n"
    "<a href=\"%21%23%24%25%26%27%28%29%2A%2B%2C-.%3A%3B%3C%3D%3E%3F%40%5B%5C"
    "%5D%5E_%60%7B%7C%7D~\">!#$%&amp;'()*+,-.:;&lt;=&gt;?@[\\]^_`{|}~</a>    "
    "                 15-Jan-2026 10:20                   0\r\n"
    "<a href=\"%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%2"
    "6%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%2"
    "6%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C\">&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;..&gt;</a> 15-Jan-2026 10:2"
    "0                   0\r\n"
    "<a href=\"Zfile\">Zfile</a>                                             "
    " 07-Jun-2038 08:09                   0\r\n"
    "<a href=\"a.txt\">a.txt</a>                                             "
    " 15-Jan-2026 10:20                   1\r\n"
    "<a href=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">aaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</a> 15-Jan-2026 10:20         "
    "          0\r\n"
    "<a href=\"bad%FF%FEutf\">bad\377\376utf</a>                             "
    "              15-Jan-2026 10:20                   0\r\n"
    "<a href=\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\">bbbbbbbb"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb..&gt;</a> 15-Jan-2026 10:20     "
    "              0\r\n"
    "<a href=\"ctl%01%09%1Fx\">ctl\001\t\037x</a>                            "
    "                15-Jan-2026 10:20                   0\r\n"
    "<a href=\"fifo1\">fifo1</a>                                             "
    " 15-Jan-2026 10:20                   0\r\n"
    "<a href=\"g1073741823\">g1073741823</a>                                 "
    "       15-Jan-2026 10:20          1073741823\r\n"
    "<a href=\"g12345678901\">g12345678901</a>                               "
    "        15-Jan-2026 10:20         12345678901\r\n"
    "<a href=\"g1610612736\">g1610612736</a>                                 "
    "       15-Jan-2026 10:20          1610612736\r\n"
    "<a href=\"h%C3%A9llo%20w%C3%B6rld.txt\">h\303\251llo w\303\266rld.txt</a"
    ">                                  15-Jan-2026 10:20                   0"
    "\r\n"
    "<a href=\"m1048575\">m1048575</a>                                       "
    "    15-Jan-2026 10:20             1048575\r\n"
    "<a href=\"m1572864\">m1572864</a>                                       "
    "    15-Jan-2026 10:20             1572864\r\n"
    "<a href=\"r%0Db%08f%0Cd%7Fe%1B\">r\rb\010f\014d\177e\033</a>            "
    "                             15-Jan-2026 10:20                   0\r\n"
    "<a href=\"s10751\">s10751</a>                                           "
    "  15-Jan-2026 10:20               10751\r\n"
    "<a href=\"s10752\">s10752</a>                                           "
    "  15-Jan-2026 10:20               10752\r\n"
    "<a href=\"s9999\">s9999</a>                                             "
    " 15-Jan-2026 10:20                9999\r\n"
    "<a href=\"sp%20ace%26amp%3Clt%3E%22q%22.txt\">sp ace&amp;amp&lt;lt&gt;&q"
    "uot;q&quot;.txt</a>                              15-Jan-2026 10:20      "
    "             0\r\n"
    "<a href=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx%C3%A9%C3%A9%C3%A"
    "9%C3%A9%C3%A9\">xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\303\251..&"
    "gt;</a> 15-Jan-2026 10:20                   0\r\n"
    "<a href=\"%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9\">\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303..&gt;</a> 1"
    "5-Jan-2026 10:20                   0\r\n"
    "</pre><hr></body>\r\n"
    "</html>\r\n";

/* GET /tn/ */
static const char expect_html_human[] =
    "<html>\r\n"
    "<head><title>Index of /tn/</title></head>\r\n"
    "<body>\r\n"
    "<h1>Index of /tn/</h1><hr><pre><a href=\"../\">../</a>\r\n"
    "<a href=\"DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD/\">DDDDDDDD"
    "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD</a> 15-Jan-2026 10:20       -"
    "\r\n"
    "<a href=\"EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE/\">EEEEEEEEE"
    "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE/</a> 15-Jan-2026 10:20       -"
    "\r\n"
    "<a href=\"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF/"
    "\">FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF..&gt;</a> 15-Jan-2026"
    " 10:20       -\r\n"
    "<a href=\"dir%20%3C%26%3E/\">dir &lt;&amp;&gt;/</a>                     "
    "                      15-Jan-2026 10:20       -\r\n"
    "<a href=\"sub/\">sub/</a>                                               "
    "03-Feb-2001 04:05       -\r\n"
    "<a href=\"%21%23%24%25%26%27%28%29%2A%2B%2C-.%3A%3B%3C%3D%3E%3F%40%5B%5C"
    "%5D%5E_%60%7B%7C%7D~\">!#$%&amp;'()*+,-.:;&lt;=&gt;?@[\\]^_`{|}~</a>    "
    "                 15-Jan-2026 10:20       0\r\n"
    "<a href=\"%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%2"
    "6%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%2"
    "6%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C\">&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;..&gt;</a> 15-Jan-2026 10:2"
    "0       0\r\n"
    "<a href=\"Zfile\">Zfile</a>                                             "
    " 07-Jun-2038 08:09       0\r\n"
    "<a href=\"a.txt\">a.txt</a>                                             "
    " 15-Jan-2026 10:20       1\r\n"
    "<a href=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">aaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</a> 15-Jan-2026 10:20       0"
    "\r\n"
    "<a href=\"bad%FF%FEutf\">bad\377\376utf</a>                             "
    "              15-Jan-2026 10:20       0\r\n"
    "<a href=\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\">bbbbbbbb"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb..&gt;</a> 15-Jan-2026 10:20     "
    "  0\r\n"
    "<a href=\"ctl%01%09%1Fx\">ctl\001\t\037x</a>                            "
    "                15-Jan-2026 10:20       0\r\n"
    "<a href=\"fifo1\">fifo1</a>                                             "
    " 15-Jan-2026 10:20       0\r\n"
    "<a href=\"g1073741823\">g1073741823</a>                                 "
    "       15-Jan-2026 10:20   1024M\r\n"
    "<a href=\"g12345678901\">g12345678901</a>                               "
    "        15-Jan-2026 10:20     11G\r\n"
    "<a href=\"g1610612736\">g1610612736</a>                                 "
    "       15-Jan-2026 10:20      2G\r\n"
    "<a href=\"h%C3%A9llo%20w%C3%B6rld.txt\">h\303\251llo w\303\266rld.txt</a"
    ">                                  15-Jan-2026 10:20       0\r\n"
    "<a href=\"m1048575\">m1048575</a>                                       "
    "    15-Jan-2026 10:20   1024K\r\n"
    "<a href=\"m1572864\">m1572864</a>                                       "
    "    15-Jan-2026 10:20      2M\r\n"
    "<a href=\"r%0Db%08f%0Cd%7Fe%1B\">r\rb\010f\014d\177e\033</a>            "
    "                             15-Jan-2026 10:20       0\r\n"
    "<a href=\"s10751\">s10751</a>                                           "
    "  15-Jan-2026 10:20     10K\r\n"
    "<a href=\"s10752\">s10752</a>                                           "
    "  15-Jan-2026 10:20     11K\r\n"
    "<a href=\"s9999\">s9999</a>                                             "
    " 15-Jan-2026 10:20    9999\r\n"
    "<a href=\"sp%20ace%26amp%3Clt%3E%22q%22.txt\">sp ace&amp;amp&lt;lt&gt;&q"
    "uot;q&quot;.txt</a>                              15-Jan-2026 10:20      "
    " 0\r\n"
    "<a href=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx%C3%A9%C3%A9%C3%A"
    "9%C3%A9%C3%A9\">xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\303\251..&"
    "gt;</a> 15-Jan-2026 10:20       0\r\n"
    "<a href=\"%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9\">\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303..&gt;</a> 1"
    "5-Jan-2026 10:20       0\r\n"
    "</pre><hr></body>\r\n"
    "</html>\r\n";

/* GET /tu/ */
static const char expect_html_utf8[] =
    "<html>\r\n"
    "<head><title>Index of /tu/</title></head>\r\n"
    "<body>\r\n"
    "<h1>Index of /tu/</h1><hr><pre><a href=\"../\">../</a>\r\n"
    "<a href=\"DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD/\">DDDDDDDD"
    "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD</a> 15-Jan-2026 10:20        "
    "           -\r\n"
    "<a href=\"EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE/\">EEEEEEEEE"
    "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE/</a> 15-Jan-2026 10:20         "
    "          -\r\n"
    "<a href=\"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF/"
    "\">FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF..&gt;</a> 15-Jan-2026"
    " 10:20                   -\r\n"
    "<a href=\"dir%20%3C%26%3E/\">dir &lt;&amp;&gt;/</a>                     "
    "                      15-Jan-2026 10:20                   -\r\n"
    "<a href=\"sub/\">sub/</a>                                               "
    "03-Feb-2001 04:05                   -\r\n"
    "<a href=\"%21%23%24%25%26%27%28%29%2A%2B%2C-.%3A%3B%3C%3D%3E%3F%40%5B%5C"
    "%5D%5E_%60%7B%7C%7D~\">!#$%&amp;'()*+,-.:;&lt;=&gt;?@[\\]^_`{|}~</a>    "
    "                 15-Jan-2026 10:20                   0\r\n"
    "<a href=\"%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%2"
    "6%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%2"
    "6%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C\">&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;..&gt;</a> 15-Jan-2026 10:2"
    "0                   0\r\n"
    "<a href=\"Zfile\">Zfile</a>                                             "
    " 07-Jun-2038 08:09                   0\r\n"
    "<a href=\"a.txt\">a.txt</a>                                             "
    " 15-Jan-2026 10:20                   1\r\n"
    "<a href=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">aaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</a> 15-Jan-2026 10:20         "
    "          0\r\n"
    "<a href=\"bad%FF%FEutf\">bad\377\376utf</a>                             "
    "              15-Jan-2026 10:20                   0\r\n"
    "<a href=\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\">bbbbbbbb"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb..&gt;</a> 15-Jan-2026 10:20     "
    "              0\r\n"
    "<a href=\"ctl%01%09%1Fx\">ctl\001\t\037x</a>                            "
    "                15-Jan-2026 10:20                   0\r\n"
    "<a href=\"fifo1\">fifo1</a>                                             "
    " 15-Jan-2026 10:20                   0\r\n"
    "<a href=\"g1073741823\">g1073741823</a>                                 "
    "       15-Jan-2026 10:20          1073741823\r\n"
    "<a href=\"g12345678901\">g12345678901</a>                               "
    "        15-Jan-2026 10:20         12345678901\r\n"
    "<a href=\"g1610612736\">g1610612736</a>                                 "
    "       15-Jan-2026 10:20          1610612736\r\n"
    "<a href=\"h%C3%A9llo%20w%C3%B6rld.txt\">h\303\251llo w\303\266rld.txt</a"
    ">                                    15-Jan-2026 10:20                  "
    " 0\r\n"
    "<a href=\"m1048575\">m1048575</a>                                       "
    "    15-Jan-2026 10:20             1048575\r\n"
    "<a href=\"m1572864\">m1572864</a>                                       "
    "    15-Jan-2026 10:20             1572864\r\n"
    "<a href=\"r%0Db%08f%0Cd%7Fe%1B\">r\rb\010f\014d\177e\033</a>            "
    "                             15-Jan-2026 10:20                   0\r\n"
    "<a href=\"s10751\">s10751</a>                                           "
    "  15-Jan-2026 10:20               10751\r\n"
    "<a href=\"s10752\">s10752</a>                                           "
    "  15-Jan-2026 10:20               10752\r\n"
    "<a href=\"s9999\">s9999</a>                                             "
    " 15-Jan-2026 10:20                9999\r\n"
    "<a href=\"sp%20ace%26amp%3Clt%3E%22q%22.txt\">sp ace&amp;amp&lt;lt&gt;&q"
    "uot;q&quot;.txt</a>                              15-Jan-2026 10:20      "
    "             0\r\n"
    "<a href=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx%C3%A9%C3%A9%C3%A"
    "9%C3%A9%C3%A9\">xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\303\251"
    "\303\251\303\251\303\251\303\251</a> 15-Jan-2026 10:20                  "
    " 0\r\n"
    "<a href=\"%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9\">\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251..&gt;</a> 15-Jan-2026 10:20            "
    "       0\r\n"
    "</pre><hr></body>\r\n"
    "</html>\r\n";

/* GET /tl/ */
static const char expect_html_local[] =
    "<html>\r\n"
    "<head><title>Index of /tl/</title></head>\r\n"
    "<body>\r\n"
    "<h1>Index of /tl/</h1><hr><pre><a href=\"../\">../</a>\r\n"
    "<a href=\"DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD/\">DDDDDDDD"
    "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD</a> 15-Jan-2026 15:50        "
    "           -\r\n"
    "<a href=\"EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE/\">EEEEEEEEE"
    "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE/</a> 15-Jan-2026 15:50         "
    "          -\r\n"
    "<a href=\"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF/"
    "\">FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF..&gt;</a> 15-Jan-2026"
    " 15:50                   -\r\n"
    "<a href=\"dir%20%3C%26%3E/\">dir &lt;&amp;&gt;/</a>                     "
    "                      15-Jan-2026 15:50                   -\r\n"
    "<a href=\"sub/\">sub/</a>                                               "
    "03-Feb-2001 09:35                   -\r\n"
    "<a href=\"%21%23%24%25%26%27%28%29%2A%2B%2C-.%3A%3B%3C%3D%3E%3F%40%5B%5C"
    "%5D%5E_%60%7B%7C%7D~\">!#$%&amp;'()*+,-.:;&lt;=&gt;?@[\\]^_`{|}~</a>    "
    "                 15-Jan-2026 15:50                   0\r\n"
    "<a href=\"%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%2"
    "6%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%2"
    "6%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C%26%3C\">&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;"
    "&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;..&gt;</a> 15-Jan-2026 15:5"
    "0                   0\r\n"
    "<a href=\"Zfile\">Zfile</a>                                             "
    " 07-Jun-2038 13:39                   0\r\n"
    "<a href=\"a.txt\">a.txt</a>                                             "
    " 15-Jan-2026 15:50                   1\r\n"
    "<a href=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">aaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</a> 15-Jan-2026 15:50         "
    "          0\r\n"
    "<a href=\"bad%FF%FEutf\">bad\377\376utf</a>                             "
    "              15-Jan-2026 15:50                   0\r\n"
    "<a href=\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\">bbbbbbbb"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb..&gt;</a> 15-Jan-2026 15:50     "
    "              0\r\n"
    "<a href=\"ctl%01%09%1Fx\">ctl\001\t\037x</a>                            "
    "                15-Jan-2026 15:50                   0\r\n"
    "<a href=\"fifo1\">fifo1</a>                                             "
    " 15-Jan-2026 15:50                   0\r\n"
    "<a href=\"g1073741823\">g1073741823</a>                                 "
    "       15-Jan-2026 15:50          1073741823\r\n"
    "<a href=\"g12345678901\">g12345678901</a>                               "
    "        15-Jan-2026 15:50         12345678901\r\n"
    "<a href=\"g1610612736\">g1610612736</a>                                 "
    "       15-Jan-2026 15:50          1610612736\r\n"
    "<a href=\"h%C3%A9llo%20w%C3%B6rld.txt\">h\303\251llo w\303\266rld.txt</a"
    ">                                  15-Jan-2026 15:50                   0"
    "\r\n"
    "<a href=\"m1048575\">m1048575</a>                                       "
    "    15-Jan-2026 15:50             1048575\r\n"
    "<a href=\"m1572864\">m1572864</a>                                       "
    "    15-Jan-2026 15:50             1572864\r\n"
    "<a href=\"r%0Db%08f%0Cd%7Fe%1B\">r\rb\010f\014d\177e\033</a>            "
    "                             15-Jan-2026 15:50                   0\r\n"
    "<a href=\"s10751\">s10751</a>                                           "
    "  15-Jan-2026 15:50               10751\r\n"
    "<a href=\"s10752\">s10752</a>                                           "
    "  15-Jan-2026 15:50               10752\r\n"
    "<a href=\"s9999\">s9999</a>                                             "
    " 15-Jan-2026 15:50                9999\r\n"
    "<a href=\"sp%20ace%26amp%3Clt%3E%22q%22.txt\">sp ace&amp;amp&lt;lt&gt;&q"
    "uot;q&quot;.txt</a>                              15-Jan-2026 15:50      "
    "             0\r\n"
    "<a href=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx%C3%A9%C3%A9%C3%A"
    "9%C3%A9%C3%A9\">xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\303\251..&"
    "gt;</a> 15-Jan-2026 15:50                   0\r\n"
    "<a href=\"%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C"
    "3%A9%C3%A9\">\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303..&gt;</a> 1"
    "5-Jan-2026 15:50                   0\r\n"
    "</pre><hr></body>\r\n"
    "</html>\r\n";

/* GET /tj/ */
static const char expect_json[] =
    "[\r\n"
    "{ \"name\":\"DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD\", \"typ"
    "e\":\"directory\", \"mtime\":\"Thu, 15 Jan 2026 10:20:30 GMT\" },\r\n"
    "{ \"name\":\"EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE\", \"type"
    "\":\"directory\", \"mtime\":\"Thu, 15 Jan 2026 10:20:30 GMT\" },\r\n"
    "{ \"name\":\"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "F\", \"type\":\"directory\", \"mtime\":\"Thu, 15 Jan 2026 10:20:30 GMT\""
    " },\r\n"
    "{ \"name\":\"dir <&>\", \"type\":\"directory\", \"mtime\":\"Thu, 15 Jan "
    "2026 10:20:30 GMT\" },\r\n"
    "{ \"name\":\"sub\", \"type\":\"directory\", \"mtime\":\"Sat, 03 Feb 2001"
    " 04:05:06 GMT\" },\r\n"
    "{ \"name\":\"!#$%&'()*+,-.:;<=>?@[\\\\]^_`{|}~\", \"type\":\"file\", \"m"
    "time\":\"Thu, 15 Jan 2026 10:20:30 GMT\", \"size\":0 },\r\n"
    "{ \"name\":\"&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&<&"
    "<\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2026 10:20:30 GMT\", \"s"
    "ize\":0 },\r\n"
    "{ \"name\":\"Zfile\", \"type\":\"file\", \"mtime\":\"Mon, 07 Jun 2038 08"
    ":09:10 GMT\", \"size\":0 },\r\n"
    "{ \"name\":\"a.txt\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2026 10"
    ":20:30 GMT\", \"size\":1 },\r\n"
    "{ \"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"typ"
    "e\":\"file\", \"mtime\":\"Thu, 15 Jan 2026 10:20:30 GMT\", \"size\":0 },"
    "\r\n"
    "{ \"name\":\"bad\377\376utf\", \"type\":\"file\", \"mtime\":\"Thu, 15 Ja"
    "n 2026 10:20:30 GMT\", \"size\":0 },\r\n"
    "{ \"name\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"ty"
    "pe\":\"file\", \"mtime\":\"Thu, 15 Jan 2026 10:20:30 GMT\", \"size\":0 }"
    ",\r\n"
    "{ \"name\":\"ctl\\u0001\\t\\u001Fx\", \"type\":\"file\", \"mtime\":\"Thu"
    ", 15 Jan 2026 10:20:30 GMT\", \"size\":0 },\r\n"
    "{ \"name\":\"fifo1\", \"type\":\"other\", \"mtime\":\"Thu, 15 Jan 2026 1"
    "0:20:30 GMT\" },\r\n"
    "{ \"name\":\"g1073741823\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2"
    "026 10:20:30 GMT\", \"size\":1073741823 },\r\n"
    "{ \"name\":\"g12345678901\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan "
    "2026 10:20:30 GMT\", \"size\":12345678901 },\r\n"
    "{ \"name\":\"g1610612736\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2"
    "026 10:20:30 GMT\", \"size\":1610612736 },\r\n"
    "{ \"name\":\"h\303\251llo w\303\266rld.txt\", \"type\":\"file\", \"mtime"
    "\":\"Thu, 15 Jan 2026 10:20:30 GMT\", \"size\":0 },\r\n"
    "{ \"name\":\"m1048575\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2026"
    " 10:20:30 GMT\", \"size\":1048575 },\r\n"
    "{ \"name\":\"m1572864\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2026"
    " 10:20:30 GMT\", \"size\":1572864 },\r\n"
    "{ \"name\":\"r\\rb\\bf\\fd\177e\\u001B\", \"type\":\"file\", \"mtime\":"
    "\"Thu, 15 Jan 2026 10:20:30 GMT\", \"size\":0 },\r\n"
    "{ \"name\":\"s10751\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2026 1"
    "0:20:30 GMT\", \"size\":10751 },\r\n"
    "{ \"name\":\"s10752\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2026 1"
    "0:20:30 GMT\", \"size\":10752 },\r\n"
    "{ \"name\":\"s9999\", \"type\":\"file\", \"mtime\":\"Thu, 15 Jan 2026 10"
    ":20:30 GMT\", \"size\":9999 },\r\n"
    "{ \"name\":\"sp ace&amp<lt>\\\"q\\\".txt\", \"type\":\"file\", \"mtime\""
    ":\"Thu, 15 Jan 2026 10:20:30 GMT\", \"size\":0 },\r\n"
    "{ \"name\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\303\251\303"
    "\251\303\251\303\251\303\251\", \"type\":\"file\", \"mtime\":\"Thu, 15 J"
    "an 2026 10:20:30 GMT\", \"size\":0 },\r\n"
    "{ \"name\":\"\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\", \"ty"
    "pe\":\"file\", \"mtime\":\"Thu, 15 Jan 2026 10:20:30 GMT\", \"size\":0 }"
    "\r\n"
    "]";

/* GET /tx/ */
static const char expect_xml[] =
    "<?xml version=\"1.0\"?>\r\n"
    "<list>\r\n"
    "<directory mtime=\"2026-01-15T10:20:30Z\">DDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
    "DDDDDDDDDDDDDDDDDDDD</directory>\r\n"
    "<directory mtime=\"2026-01-15T10:20:30Z\">EEEEEEEEEEEEEEEEEEEEEEEEEEEEEE"
    "EEEEEEEEEEEEEEEEEEE</directory>\r\n"
    "<directory mtime=\"2026-01-15T10:20:30Z\">FFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFF</directory>\r\n"
    "<directory mtime=\"2026-01-15T10:20:30Z\">dir &lt;&amp;&gt;</directory>"
    "\r\n"
    "<directory mtime=\"2001-02-03T04:05:06Z\">sub</directory>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">!#$%&amp;'()*+,-.:;&lt;="
    "&gt;?@[\\]^_`{|}~</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">&amp;&lt;&amp;&lt;&amp;&"
    "lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&"
    "lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&"
    "lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&lt;&amp;&"
    "lt;&amp;&lt;&amp;&lt;&amp;&lt;</file>\r\n"
    "<file mtime=\"2038-06-07T08:09:10Z\" size=\"0\">Zfile</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"1\">a.txt</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">aaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaa</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">bad\377\376utf</file>\r"
    "\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">bbbbbbbbbbbbbbbbbbbbbbbb"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbb</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">ctl\001\t\037x</file>\r"
    "\n"
    "<other mtime=\"2026-01-15T10:20:30Z\">fifo1</other>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"1073741823\">g1073741823</fi"
    "le>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"12345678901\">g12345678901</"
    "file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"1610612736\">g1610612736</fi"
    "le>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">h\303\251llo w\303\266rl"
    "d.txt</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"1048575\">m1048575</file>\r"
    "\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"1572864\">m1572864</file>\r"
    "\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">r\rb\010f\014d\177e\033<"
    "/file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"10751\">s10751</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"10752\">s10752</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"9999\">s9999</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">sp ace&amp;amp&lt;lt&gt;"
    "&quot;q&quot;.txt</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">xxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxx\303\251\303\251\303\251\303\251\303\251</file>\r\n"
    "<file mtime=\"2026-01-15T10:20:30Z\" size=\"0\">\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
    "\303\251\303\251\303\251</file>\r\n"
    "</list>\r\n";

static pt_pool_t  *pool;

static pt_array_t *
make_dir(void)
{
    pt_array_t           *a;
    pt_autoindex_entry_t *e;
    size_t                i;

    a = pt_array_create(pool, 4, sizeof(pt_autoindex_entry_t));
    ck_assert_ptr_nonnull(a);
    for (i = 0; i < pt_nelems(dir); i++) {
        e = pt_array_push(a);
        ck_assert_ptr_nonnull(e);
        e->name.data = (u_char *) dir[i].name;
        e->name.len = strlen(dir[i].name);
        e->type = dir[i].type;
        e->size = dir[i].size;
        e->mtime = dir[i].mtime;
    }
    return a;
}

static void
check_render(const char *uri, pt_array_t *a, const pt_autoindex_conf_t *conf,
             const char *expect, size_t expect_len)
{
    pt_str_t  u;
    pt_buf_t *b;
    size_t    n, i;

    u.data = (u_char *) uri;
    u.len = strlen(uri);
    b = pt_autoindex_render(pool, &u, a, conf);
    ck_assert_ptr_nonnull(b);
    ck_assert(b->temporary);
    n = (size_t) (b->last - b->pos);

    for (i = 0; i < n && i < expect_len && b->pos[i] == (u_char) expect[i];
         i++)
    {
        /* find the first difference */
    }
    ck_assert_msg(i == n && n == expect_len,
                  "differs at byte %zu (got %zu bytes, expected %zu): "
                  "got \"%.60s\", expected \"%.60s\"", i, n, expect_len,
                  (char *) b->pos + (i < n ? i : n),
                  expect + (i < expect_len ? i : expect_len));
}

#define CHECK(uri, a, conf, expect)                                           \
    check_render(uri, a, conf, expect, sizeof(expect) - 1)

static void
setup(void)
{
    pool = pt_pool_create(4096, NULL);
}

static void
teardown(void)
{
    pt_pool_destroy(pool);
}

START_TEST(html_exact_size)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_HTML,
                                 .exact_size = 1 };

    CHECK("/t/", make_dir(), &conf, expect_html_exact);
}
END_TEST

START_TEST(html_human_size)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_HTML };

    CHECK("/tn/", make_dir(), &conf, expect_html_human);
}
END_TEST

START_TEST(html_utf8)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_HTML,
                                 .exact_size = 1, .utf8 = 1 };

    CHECK("/tu/", make_dir(), &conf, expect_html_utf8);
}
END_TEST

START_TEST(html_localtime)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_HTML,
                                 .exact_size = 1, .localtime = 1,
                                 .gmtoff = 19800 };

    CHECK("/tl/", make_dir(), &conf, expect_html_local);
}
END_TEST

START_TEST(json)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_JSON,
                                 .localtime = 1, .gmtoff = 19800 };

    /* localtime is html only */
    CHECK("/tj/", make_dir(), &conf, expect_json);

    /* jsonp without a callback is plain json */
    conf.format = PT_AUTOINDEX_JSONP;
    CHECK("/tj/", make_dir(), &conf, expect_json);
}
END_TEST

/* GET /tp/?callback=jsonp_cb.x1 */
static const char expect_jsonp_head[] = "/* callback */\r\njsonp_cb.x1(";

START_TEST(jsonp)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_JSONP,
                                 .callback = pt_string("jsonp_cb.x1") };
    char                expect[sizeof(expect_jsonp_head)
                               + sizeof(expect_json) + 2];

    strcpy(expect, expect_jsonp_head);
    strcat(expect, expect_json);
    strcat(expect, ");");
    check_render("/tp/", make_dir(), &conf, expect, strlen(expect));
}
END_TEST

START_TEST(xml)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_XML,
                                 .localtime = 1, .gmtoff = 19800 };

    CHECK("/tx/", make_dir(), &conf, expect_xml);
}
END_TEST

/* GET /e/we%20%3C&%3E%22q/ : the title is the decoded URI, HTML-escaped. */
START_TEST(title_escaped)
{
    pt_autoindex_conf_t   conf = { .format = PT_AUTOINDEX_HTML,
                                   .exact_size = 1 };
    pt_array_t           *a;
    pt_autoindex_entry_t *e;

    a = pt_array_create(pool, 1, sizeof(pt_autoindex_entry_t));
    e = pt_array_push(a);
    pt_str_set(&e->name, "f");
    e->type = PT_AUTOINDEX_FILE;
    e->size = 0;
    e->mtime = 1768472430;

    CHECK("/e/we <&>\"q/", a, &conf,
          "<html>\r\n<head><title>Index of /e/we &lt;&amp;&gt;&quot;q/"
          "</title></head>\r\n<body>\r\n<h1>Index of /e/we &lt;&amp;&gt;"
          "&quot;q/</h1><hr><pre><a href=\"../\">../</a>\r\n"
          "<a href=\"f\">f</a>                                             "
          "     15-Jan-2026 10:20                   0\r\n"
          "</pre><hr></body>\r\n</html>\r\n");
}
END_TEST

/* GET /e/empty/ in each format */
START_TEST(empty_dir)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_HTML };
    pt_array_t         *a = pt_array_create(pool, 1,
                                            sizeof(pt_autoindex_entry_t));

    CHECK("/e/empty/", a, &conf,
          "<html>\r\n<head><title>Index of /e/empty/</title></head>\r\n"
          "<body>\r\n<h1>Index of /e/empty/</h1><hr><pre>"
          "<a href=\"../\">../</a>\r\n</pre><hr></body>\r\n</html>\r\n");
    conf.format = PT_AUTOINDEX_JSON;
    CHECK("/e/empty/", a, &conf, "[\r\n]");
    conf.format = PT_AUTOINDEX_JSONP;
    pt_str_set(&conf.callback, "a.b_c");
    CHECK("/e/empty/", a, &conf, "/* callback */\r\na.b_c([\r\n]);");
    conf.format = PT_AUTOINDEX_XML;
    CHECK("/e/empty/", a, &conf,
          "<?xml version=\"1.0\"?>\r\n<list>\r\n</list>\r\n");
}
END_TEST

START_TEST(sort_order)
{
    pt_autoindex_entry_t e[] = {
        { pt_string("b"), PT_AUTOINDEX_FILE, 0, 0 },
        { pt_string("sub"), PT_AUTOINDEX_DIR, 0, 0 },
        { pt_string("_x"), PT_AUTOINDEX_OTHER, 0, 0 },
        { pt_string("\303\251"), PT_AUTOINDEX_FILE, 0, 0 },
        { pt_string("Zdir"), PT_AUTOINDEX_DIR, 0, 0 },
        { pt_string("ab"), PT_AUTOINDEX_FILE, 0, 0 },
        { pt_string("a"), PT_AUTOINDEX_FILE, 0, 0 },
        { pt_string("B"), PT_AUTOINDEX_FILE, 0, 0 },
    };
    const char *order[] = { "Zdir", "sub", "B", "_x", "a", "ab", "b",
                            "\303\251" };
    size_t      i;

    pt_autoindex_sort(e, pt_nelems(e));
    for (i = 0; i < pt_nelems(e); i++) {
        ck_assert(pt_str_eq_cstr(&e[i].name, order[i]));
    }
}
END_TEST

/* nginx 1.22.1: 400 for "a-b", "$x", "a[0]", "%41" and 129 letters */
START_TEST(callback_check)
{
    static const struct {
        const char *cb;
        int         ok;
    } t[] = {
        { "", 1 }, { "a.b_c", 1 }, { "A9z", 1 }, { "9a", 1 },
        { "a-b", 0 }, { "$x", 0 }, { "a[0]", 0 }, { "%41", 0 },
        { "a b", 0 }, { "\303\251", 0 },
    };
    char     buf[PT_AUTOINDEX_CALLBACK_MAX + 1];
    pt_str_t s;
    size_t   i;

    for (i = 0; i < pt_nelems(t); i++) {
        s.data = (u_char *) t[i].cb;
        s.len = strlen(t[i].cb);
        ck_assert_msg(pt_autoindex_callback_ok(&s) == t[i].ok, "%s",
                      t[i].cb);
    }

    memset(buf, 'a', sizeof(buf));
    s.data = (u_char *) buf;
    s.len = PT_AUTOINDEX_CALLBACK_MAX;
    ck_assert(pt_autoindex_callback_ok(&s));
    s.len++;
    ck_assert(!pt_autoindex_callback_ok(&s));
}
END_TEST

START_TEST(content_types)
{
    pt_autoindex_conf_t conf = { .format = PT_AUTOINDEX_HTML };
    pt_str_t            type, charset;

    pt_autoindex_content_type(&conf, &type, &charset);
    ck_assert(pt_str_eq_cstr(&type, "text/html") && charset.len == 0);
    conf.format = PT_AUTOINDEX_JSON;
    pt_autoindex_content_type(&conf, &type, &charset);
    ck_assert(pt_str_eq_cstr(&type, "application/json") && charset.len == 0);
    conf.format = PT_AUTOINDEX_JSONP;
    pt_autoindex_content_type(&conf, &type, &charset);
    ck_assert(pt_str_eq_cstr(&type, "application/json"));
    pt_str_set(&conf.callback, "cb");
    pt_autoindex_content_type(&conf, &type, &charset);
    ck_assert(pt_str_eq_cstr(&type, "application/javascript"));
    conf.format = PT_AUTOINDEX_XML;
    pt_autoindex_content_type(&conf, &type, &charset);
    ck_assert(pt_str_eq_cstr(&type, "text/xml"));
    ck_assert(pt_str_eq_cstr(&charset, "utf-8"));
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_autoindex_fmt");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, html_exact_size);
    tcase_add_test(tc, html_human_size);
    tcase_add_test(tc, html_utf8);
    tcase_add_test(tc, html_localtime);
    tcase_add_test(tc, json);
    tcase_add_test(tc, jsonp);
    tcase_add_test(tc, xml);
    tcase_add_test(tc, title_escaped);
    tcase_add_test(tc, empty_dir);
    tcase_add_test(tc, sort_order);
    tcase_add_test(tc, callback_check);
    tcase_add_test(tc, content_types);
    suite_add_tcase(s, tc);
    return s;
}
