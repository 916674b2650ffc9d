"""The headers filter (add_header, add_trailer, expires) and the charset
filter on real responses: which statuses get headers, `always`, the
inheritance of a level's list as a whole, variables in values, the exact
Expires and Cache-Control values, trailers after the last chunk, and
"; charset=" on the charset_types only."""

import calendar
import email.utils
import socket
import time
import unittest

from portico_harness import PorticoTestCase, wait_for


def conf_text(port, server_body, http_extra=""):
    return "\n".join([
        "daemon off;",
        "worker_processes 1;",
        "error_log logs/error.log info;",
        "pid logs/portico.pid;",
        "events {",
        "    worker_connections 64;",
        "}",
        "http {",
        http_extra,
        "    server {",
        f"        listen 127.0.0.1:{port};",
        "        location = /ready { return 200 \"v1 $pid\\n\"; }",
        server_body,
        "    }",
        "}",
        "",
    ])


class Reply:
    """A parsed response: status, headers and trailers as (name, value)
    lists in order, the body, and the framing used."""

    def __init__(self, status, headers, body, trailers, chunked):
        self.status = status
        self.headers = headers
        self.body = body
        self.trailers = trailers
        self.chunked = chunked

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def get(self, name):
        v = self.all(name)
        if len(v) > 1:
            raise AssertionError(f"{len(v)} {name} headers: {self.headers}")
        return v[0] if v else None


def parse_chunked(data):
    """The body and trailers of a complete chunked message body."""
    body, trailers = b"", []
    while True:
        line, _, data = data.partition(b"\r\n")
        size = int(line, 16)
        if size == 0:
            break
        body += data[:size]
        if data[size:size + 2] != b"\r\n":
            raise AssertionError(f"bad chunk end in {data!r}")
        data = data[size + 2:]
    while True:
        line, _, data = data.partition(b"\r\n")
        if line == b"":
            break
        k, _, v = line.decode("latin-1").partition(": ")
        trailers.append((k, v))
    if data:
        raise AssertionError(f"bytes after the chunked body: {data!r}")
    return body, trailers


def request(port, path, method="GET", version="1.1"):
    """One request with Connection: close, read to the end: a Reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"{method} {path} HTTP/{version}\r\nHost: localhost\r\n"
                  f"Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"incomplete response {data!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    reply = Reply(int(lines[0].split()[1]), headers, rest, [], False)
    if method != "HEAD" and reply.get("Transfer-Encoding") == "chunked":
        reply.chunked = True
        reply.body, reply.trailers = parse_chunked(rest)
    elif method != "HEAD" and reply.get("Content-Length") is not None:
        if len(rest) != int(reply.get("Content-Length")):
            raise AssertionError(f"length mismatch in {data!r}")
    return reply


def http_date(text):
    return calendar.timegm(email.utils.parsedate(text))


def fmt_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


class Base(PorticoTestCase):

    def serve(self, server_body, http_extra=""):
        inst = self.portico()
        inst.write_conf(conf_text(inst.port, server_body, http_extra))
        inst.start(wait=False)
        inst.wait_workers(1)
        wait_for(lambda: request(inst.port, "/ready").status == 200,
                 f"port {inst.port} to answer", diag=inst.diag)
        return inst


class AddHeader(Base):

    def test_success_statuses_only_unless_always(self):
        inst = self.serve("""
            add_header X-Plain plain;
            add_header X-Always always always;
            location /ok { return 200 "ok"; }
            location /created { return 201 "c"; }
            location /nc { return 204; }
            location /moved { return 301 /elsewhere; }
            location /found { return 302 /elsewhere; }
            location /see { return 303 /elsewhere; }
            location /temp { return 307 /elsewhere; }
            location /perm { return 308 /elsewhere; }
            location /missing { return 404; }
            location /gone { return 410; }
            location /bad { return 500; }
            location /accepted { return 202 "a"; }
        """)
        for path in ("/ok", "/created", "/nc", "/moved", "/found", "/see",
                     "/temp", "/perm"):
            with self.subTest(path=path):
                r = request(inst.port, path)
                self.assertEqual(r.get("X-Plain"), "plain")
                self.assertEqual(r.get("X-Always"), "always")
        for path in ("/missing", "/gone", "/bad", "/accepted"):
            with self.subTest(path=path):
                r = request(inst.port, path)
                self.assertIsNone(r.get("X-Plain"))
                self.assertEqual(r.get("X-Always"), "always")

    def test_not_found_from_no_handler(self):
        inst = self.serve("""
            location /nothing { add_header X-A a; add_header X-B b always; }
        """)
        r = request(inst.port, "/nothing")
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.get("X-A"))
        self.assertEqual(r.get("X-B"), "b")

    def test_inheritance_replaces_the_parent_list(self):
        inst = self.serve("""
            add_header X-Server server;
            location /inherit { return 200 "i"; }
            location /own { add_header X-Own own; return 200 "o"; }
            location /outer {
                add_header X-Outer outer;
                location /outer/inner { return 200 "n"; }
                location /outer/replace { add_header X-Inner inner;
                                          return 200 "r"; }
                return 200 "x";
            }
        """, http_extra="    add_header X-Http http;")
        r = request(inst.port, "/inherit")
        self.assertEqual(r.get("X-Server"), "server")
        self.assertIsNone(r.get("X-Http"))
        r = request(inst.port, "/own")
        self.assertEqual(r.get("X-Own"), "own")
        self.assertIsNone(r.get("X-Server"))
        r = request(inst.port, "/outer/inner")
        self.assertEqual(r.get("X-Outer"), "outer")
        self.assertIsNone(r.get("X-Server"))
        r = request(inst.port, "/outer/replace")
        self.assertEqual(r.get("X-Inner"), "inner")
        self.assertIsNone(r.get("X-Outer"))

    def test_http_level_reaches_every_server(self):
        inst = self.serve('location /x { return 200 "x"; }',
                          http_extra="    add_header X-Http http;")
        self.assertEqual(request(inst.port, "/x").get("X-Http"), "http")

    def test_variables_in_values(self):
        inst = self.serve("""
            location /v {
                add_header X-Uri "uri=$uri args=$args";
                add_header X-Method $request_method;
                add_header "X-${request_method}-Name" literal;
                return 200 "v";
            }
        """)
        r = request(inst.port, "/v/a?b=1")
        self.assertEqual(r.get("X-Uri"), "uri=/v/a args=b=1")
        self.assertEqual(r.get("X-Method"), "GET")
        # names are not complex values
        self.assertEqual(r.get("X-${request_method}-Name"), "literal")

    def test_multiple_and_empty(self):
        inst = self.serve("""
            location /m {
                add_header X-Multi one;
                add_header X-Multi two;
                add_header X-Empty "";
                add_header X-Maybe $arg_maybe;
                add_header X-Last last;
                return 200 "m";
            }
        """)
        r = request(inst.port, "/m")
        self.assertEqual(r.all("X-Multi"), ["one", "two"])
        self.assertIsNone(r.get("X-Empty"))
        self.assertIsNone(r.get("X-Maybe"))
        names = [k for k, _ in r.headers]
        self.assertLess(names.index("X-Multi"), names.index("X-Last"))
        self.assertEqual(request(inst.port, "/m?maybe=yes").get("X-Maybe"),
                         "yes")

    def test_special_names(self):
        inst = self.serve("""
            location /cc { add_header Cache-Control private;
                           add_header cache-control no-transform;
                           return 200 "c"; }
            location /lm { add_header Last-Modified
                               "Wed, 21 Oct 2015 07:28:00 GMT";
                           add_header ETag '"v1"'; add_header ETag '"v2"';
                           return 200 "l"; }
        """)
        r = request(inst.port, "/cc")
        self.assertEqual(r.all("Cache-Control"), ["private", "no-transform"])
        r = request(inst.port, "/lm")
        self.assertEqual(r.all("Last-Modified"),
                         ["Wed, 21 Oct 2015 07:28:00 GMT"])
        # ETag replaces the one before it
        self.assertEqual(r.all("ETag"), ['"v2"'])

    def test_bad_parameter(self):
        inst = self.portico()
        inst.write_conf(conf_text(inst.port,
                                  "add_header X-A a sometimes;"))
        r = inst.run("-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn('[emerg] invalid parameter "sometimes" in '
                      + inst.conf_path, r.stderr)


class AddTrailer(Base):

    CONF = """
        location /t { add_trailer X-T "t=$uri"; add_trailer X-Empty "";
                      add_trailer X-Second 2; return 200 "body\\n"; }
        location /t404 { add_trailer X-T t; add_trailer X-A a always;
                         return 404; }
        location /tplain404 { add_trailer X-T t; return 404; }
        location /h { add_header X-H h; return 200 "h"; }
    """

    def test_trailers_after_the_last_chunk(self):
        inst = self.serve(self.CONF)
        r = request(inst.port, "/t")
        # a length is known, but trailers need chunks
        self.assertTrue(r.chunked)
        self.assertIsNone(r.get("Content-Length"))
        self.assertEqual(r.body, b"body\n")
        self.assertEqual(r.trailers, [("X-T", "t=/t"), ("X-Second", "2")])
        # trailers are not headers
        self.assertIsNone(r.get("X-T"))

    def test_trailers_follow_status_rules(self):
        inst = self.serve(self.CONF)
        r = request(inst.port, "/t404")
        self.assertEqual(r.status, 404)
        self.assertTrue(r.chunked)
        self.assertIn(b"404 Not Found", r.body)
        self.assertEqual(r.trailers, [("X-A", "a")])
        r = request(inst.port, "/tplain404")
        self.assertFalse(r.chunked)
        self.assertIsNotNone(r.get("Content-Length"))

    def test_no_trailers_without_chunks(self):
        inst = self.serve(self.CONF)
        r = request(inst.port, "/t", version="1.0")
        self.assertFalse(r.chunked)
        self.assertEqual(r.get("Content-Length"), "5")
        self.assertEqual(r.body, b"body\n")
        r = request(inst.port, "/t", method="HEAD")
        self.assertIsNone(r.get("Transfer-Encoding"))
        self.assertEqual(r.get("Content-Length"), "5")
        self.assertEqual(r.body, b"")
        r = request(inst.port, "/h")
        self.assertFalse(r.chunked)
        self.assertEqual(r.get("Content-Length"), "1")

    def test_chunked_transfer_encoding_off(self):
        inst = self.serve("""
            chunked_transfer_encoding off;
            location /t { add_trailer X-T t; return 200 "body"; }
        """)
        r = request(inst.port, "/t")
        self.assertFalse(r.chunked)
        self.assertEqual(r.get("Content-Length"), "4")


class Expires(Base):

    CONF = """
        location /hour { expires 1h; return 200 "x"; }
        location /mixed { expires 1d2h3m4s; return 200 "x"; }
        location /plus { expires +30m; return 200 "x"; }
        location /past { expires -1h; return 200 "x"; }
        location /zero { expires 0; return 200 "x"; }
        location /epoch { expires epoch; return 200 "x"; }
        location /max { expires max; return 200 "x"; }
        location /modified { expires modified 1h; return 200 "x"; }
        location /missing { expires 1h; return 404; }
        location /redirect { expires 1h; return 302 /x; }
        location /outer { expires 1h;
            location /outer/off { expires off; return 200 "x"; }
            location /outer/in { return 200 "x"; }
        }
        location /cc { expires 1h; add_header Cache-Control private;
                       return 200 "x"; }
        location /daily { expires @15h30m; return 200 "x"; }
        location /var { expires $arg_e; return 200 "x"; }
    """

    def check(self, r, delta, cc):
        now = http_date(r.get("Date"))
        self.assertEqual(r.get("Expires"), fmt_date(now + delta))
        self.assertEqual(r.all("Cache-Control"), [cc] if cc else [])

    def test_relative_times(self):
        inst = self.serve(self.CONF)
        self.check(request(inst.port, "/hour"), 3600, "max-age=3600")
        self.check(request(inst.port, "/mixed"), 93784, "max-age=93784")
        self.check(request(inst.port, "/plus"), 1800, "max-age=1800")
        self.check(request(inst.port, "/past"), -3600, "no-cache")
        self.check(request(inst.port, "/zero"), 0, "max-age=0")
        # no Last-Modified: counted from now
        self.check(request(inst.port, "/modified"), 3600, "max-age=3600")

    def test_epoch_and_max(self):
        inst = self.serve(self.CONF)
        r = request(inst.port, "/epoch")
        self.assertEqual(r.get("Expires"), "Thu, 01 Jan 1970 00:00:01 GMT")
        self.assertEqual(r.get("Cache-Control"), "no-cache")
        r = request(inst.port, "/max")
        self.assertEqual(r.get("Expires"), "Thu, 31 Dec 2037 23:55:55 GMT")
        self.assertEqual(r.get("Cache-Control"), "max-age=315360000")

    def test_statuses_and_inheritance(self):
        inst = self.serve(self.CONF)
        r = request(inst.port, "/missing")
        self.assertIsNone(r.get("Expires"))
        self.assertIsNone(r.get("Cache-Control"))
        self.check(request(inst.port, "/redirect"), 3600, "max-age=3600")
        r = request(inst.port, "/outer/off")
        self.assertIsNone(r.get("Expires"))
        self.check(request(inst.port, "/outer/in"), 3600, "max-age=3600")

    def test_with_add_header_cache_control(self):
        inst = self.serve(self.CONF)
        r = request(inst.port, "/cc")
        self.assertEqual(r.all("Cache-Control"), ["max-age=3600", "private"])

    def test_time_of_day(self):
        inst = self.serve(self.CONF)
        r = request(inst.port, "/daily")
        now = http_date(r.get("Date"))
        # the next 15:30 on the server's (and this test's) local clock
        tm = list(time.localtime(now))
        tm[3:6] = [15, 30, 0]
        tm[8] = -1
        when = int(time.mktime(tuple(tm)))
        if when <= now:
            tm[2] += 1
            when = int(time.mktime(tuple(tm)))
        self.assertEqual(r.get("Expires"), fmt_date(when))
        self.assertEqual(r.get("Cache-Control"), f"max-age={when - now}")

    def test_variable_value(self):
        inst = self.serve(self.CONF)
        self.check(request(inst.port, "/var?e=2m"), 120, "max-age=120")
        r = request(inst.port, "/var?e=epoch")
        self.assertEqual(r.get("Cache-Control"), "no-cache")
        # off, or a value that does not parse, leaves the response alone
        for arg in ("off", "soon", ""):
            with self.subTest(e=arg):
                r = request(inst.port, f"/var?e={arg}")
                self.assertIsNone(r.get("Expires"))
                self.assertIsNone(r.get("Cache-Control"))

    def test_config_errors(self):
        cases = [
            ("expires soon;", '"expires" directive invalid value'),
            ("expires modified max;", '"expires" directive invalid value'),
            ("expires modified @1h;", '"expires" directive daily time '
             'cannot be used with "modified" parameter'),
            ("expires @25h;", '"expires" directive daily time value must '
             'be less than 24 hours'),
            ("expires 1h; expires 2h;", '"expires" directive is duplicate'),
        ]
        for text, msg in cases:
            with self.subTest(conf=text):
                inst = self.portico()
                inst.write_conf(conf_text(inst.port, text))
                r = inst.run("-t")
                self.assertEqual(r.returncode, 1)
                self.assertIn(f"[emerg] {msg} in {inst.conf_path}:",
                              r.stderr)


class Charset(Base):

    CONF = """
        charset utf-8;
        location /plain { return 200 "x"; }
        location /png { default_type image/png; return 200 "x"; }
        location /html { default_type text/html; return 200 "x"; }
        location /js { default_type application/javascript; return 200 "x"; }
        location /missing { return 404; }
        location /redirect { return 302 /x; }
        location /off { charset off; return 200 "x"; }
        location /types { charset_types text/xml; return 200 "x"; }
        location /types-html { charset_types text/xml;
                               default_type text/html; return 200 "x"; }
        location /any { charset_types *; default_type image/png;
                        return 200 "x"; }
        location /koi { charset koi8-r; return 200 "x"; }
        location /var { charset $arg_cs; return 200 "x"; }
    """

    def ctype(self, inst, path):
        return request(inst.port, path).get("Content-Type")

    def test_charset_on_charset_types_only(self):
        inst = self.serve(self.CONF)
        self.assertEqual(self.ctype(inst, "/plain"),
                         "text/plain; charset=utf-8")
        self.assertEqual(self.ctype(inst, "/html"),
                         "text/html; charset=utf-8")
        self.assertEqual(self.ctype(inst, "/js"),
                         "application/javascript; charset=utf-8")
        self.assertEqual(self.ctype(inst, "/png"), "image/png")
        self.assertEqual(self.ctype(inst, "/off"), "text/plain")
        self.assertEqual(self.ctype(inst, "/koi"),
                         "text/plain; charset=koi8-r")

    def test_error_pages_and_redirects(self):
        inst = self.serve(self.CONF)
        self.assertEqual(self.ctype(inst, "/missing"),
                         "text/html; charset=utf-8")
        # never on a 301/302 (browsers took it for the next page's)
        self.assertEqual(self.ctype(inst, "/redirect"), "text/html")

    def test_charset_types(self):
        inst = self.serve(self.CONF)
        # a list replaces the default one but text/html stays in it
        self.assertEqual(self.ctype(inst, "/types"), "text/plain")
        self.assertEqual(self.ctype(inst, "/types-html"),
                         "text/html; charset=utf-8")
        self.assertEqual(self.ctype(inst, "/any"),
                         "image/png; charset=utf-8")

    def test_variable_charset(self):
        inst = self.serve(self.CONF)
        self.assertEqual(self.ctype(inst, "/var?cs=koi8-r"),
                         "text/plain; charset=koi8-r")
        # spelled as the variable has it, known to the config or not
        self.assertEqual(self.ctype(inst, "/var?cs=KOI8-R"),
                         "text/plain; charset=KOI8-R")
        self.assertEqual(self.ctype(inst, "/var?cs=latin1"),
                         "text/plain; charset=latin1")
        self.assertEqual(self.ctype(inst, "/var?cs="), "text/plain")

    def test_unknown_pair_is_refused_at_run_time(self):
        inst = self.serve("""
            location /v { charset $arg_cs; source_charset koi8-r;
                          return 200 "x"; }
        """, http_extra="    charset_map koi8-r windows-1251 { C0 FE; }")
        self.assertEqual(self.ctype(inst, "/v?cs=KOI8-r"),
                         "text/plain; charset=KOI8-r")
        mark = inst.log_size()
        self.assertEqual(self.ctype(inst, "/v?cs=latin1"), "text/plain")
        inst.wait_log(r'\[error\] \d+#\d+: (?:\*\d+ )?no "charset_map" '
                      r'between the charsets "koi8-r" and "latin1"', since=mark)

    def test_source_charset_needs_a_map(self):
        inst = self.portico()
        inst.write_conf(conf_text(inst.port, """
            charset utf-8; source_charset koi8-r;
        """))
        r = inst.run("-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn('[emerg] no "charset_map" between the charsets '
                      '"koi8-r" and "utf-8"', r.stderr)

    def test_no_conversion_keeps_the_source_charset(self):
        inst = self.serve("""
            charset windows-1251; source_charset koi8-r;
            location /x { return 200 "x"; }
            location /same { source_charset windows-1251; return 200 "x"; }
        """, http_extra="    charset_map koi8-r windows-1251 { C0 FE; }")
        log = inst.log()
        self.assertRegex(log, r'\[notice\] \d+#\d+: "charset_map" is '
                         r'accepted but portico does not convert charsets')
        self.assertRegex(log, r'\[notice\] \d+#\d+: portico does not '
                         r'convert charsets')
        # the body is still koi8-r: it says so
        self.assertEqual(self.ctype(inst, "/x"),
                         "text/plain; charset=koi8-r")
        self.assertEqual(self.ctype(inst, "/same"),
                         "text/plain; charset=windows-1251")


if __name__ == "__main__":
    unittest.main()
