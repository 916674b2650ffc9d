"""listen: wildcard and specific addresses on one port (one socket, the
server picked by the local address), IPv6, unix sockets, default_server."""

import http.client
import os
import socket
import unittest

from portico_harness import PorticoTestCase, free_port, http_get


def ipv6_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def get(host, port, path="/", header_host=None):
    c = http.client.HTTPConnection(host, port, timeout=5)
    try:
        c.request("GET", path, headers={"Host": header_host or "x"})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


class ServerBase(PorticoTestCase):

    @staticmethod
    def ready_server(inst):
        # what the harness's readiness check asks for on inst.port
        return (f"\nserver {{ listen 127.0.0.1:{inst.port}; "
                "return 200 \"v1 $pid\\n\"; }\n")

    def start_with(self, http_block):
        inst = self.portico()
        text = ("daemon off; worker_processes 1; error_log logs/error.log info;"
                "\npid logs/portico.pid;\nevents { worker_connections 64; }\n"
                "http {\n" + http_block + self.ready_server(inst) + "\n}\n")
        inst.write_conf(text=text)
        inst.start()
        return inst


class Listen(ServerBase):

    def test_wildcard_and_specific_share_one_socket(self):
        port = free_port()
        self.start_with(f"""
            server {{ listen {port}; return 200 "wild"; }}
            server {{ listen 127.0.0.2:{port}; return 200 "two"; }}
            server {{ listen 127.0.0.3:{port}; return 200 "three"; }}
        """)
        self.assertEqual(get("127.0.0.1", port), (200, "wild"))
        self.assertEqual(get("127.0.0.2", port), (200, "two"))
        self.assertEqual(get("127.0.0.3", port), (200, "three"))
        # one listening socket for the port, bound to the wildcard
        with open("/proc/net/tcp") as f:
            rows = [l.split() for l in f.readlines()[1:]]
        mine = [r for r in rows if r[3] == "0A"
                and int(r[1].split(":")[1], 16) == port]
        self.assertEqual([r[1].split(":")[0] for r in mine], ["00000000"])

    def test_default_server_and_names(self):
        port = free_port()
        self.start_with(f"""
            server {{ listen 127.0.0.1:{port}; server_name a.test;
                     return 200 "a"; }}
            server {{ listen 127.0.0.1:{port} default_server;
                     server_name b.test; return 200 "b"; }}
        """)
        self.assertEqual(get("127.0.0.1", port, header_host="a.test"),
                         (200, "a"))
        self.assertEqual(get("127.0.0.1", port, header_host="A.TEST:80"),
                         (200, "a"))
        self.assertEqual(get("127.0.0.1", port, header_host="other"),
                         (200, "b"))

    def test_regex_server_name_captures(self):
        port = free_port()
        self.start_with(f"""
            server {{ listen 127.0.0.1:{port} default_server;
                     return 200 "default"; }}
            server {{ listen 127.0.0.1:{port};
                     server_name ~^(?<sub>[a-z]+)\\.example\\.com$;
                     return 200 "sub=$sub one=$1"; }}
        """)
        self.assertEqual(get("127.0.0.1", port, header_host="WWW.example.com"),
                         (200, "sub=www one=www"))
        self.assertEqual(get("127.0.0.1", port, header_host="a.b.example.com"),
                         (200, "default"))

    def test_ipv6(self):
        if not ipv6_available():
            self.skipTest("::1 is not available on this machine")
        port = free_port()
        self.start_with(f"""
            server {{ listen [::1]:{port}; return 200 "six $remote_addr"; }}
            server {{ listen 127.0.0.1:{port}; return 200 "four"; }}
        """)
        self.assertEqual(get("::1", port), (200, "six ::1"))
        self.assertEqual(get("127.0.0.1", port), (200, "four"))

    def test_unix_socket(self):
        inst = self.portico()
        path = os.path.join(inst.prefix, "p.sock")
        text = ("daemon off; worker_processes 1; pid logs/portico.pid;\n"
                "error_log logs/error.log info;\n"
                "events { worker_connections 64; }\n"
                f"http {{ server {{ listen unix:{path}; "
                "return 200 \"unix $remote_addr\"; }"
                + self.ready_server(inst) + "}\n")
        inst.write_conf(text=text)
        inst.start()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data)
        self.assertTrue(data.endswith(b"\r\n\r\nunix unix:"), data)
        # the socket file is removed when the master stops
        inst.signal(15)
        from portico_harness import wait_for
        wait_for(lambda: not os.path.exists(path), "the socket file to go")


class Defaults(ServerBase):

    def test_types_without_a_types_block(self):
        """nginx knows html, gif and jpg without any "types" block."""
        inst = self.portico()
        for name in ("a.gif", "a.jpg", "a.html", "a.png"):
            with open(os.path.join(inst.prefix, name), "w") as f:
                f.write("x")
        port = free_port()
        self.start_with(f"server {{ listen 127.0.0.1:{port}; "
                        f"root {inst.prefix}; }}")
        for name, ctype in (("a.gif", "image/gif"), ("a.jpg", "image/jpeg"),
                            ("a.html", "text/html"),
                            ("a.png", "text/plain")):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/" + name)
            r = c.getresponse()
            r.read()
            c.close()
            self.assertEqual((r.status, r.getheader("Content-Type")),
                             (200, ctype), name)

    def test_status_without_reason(self):
        port = free_port()
        self.start_with(f"server {{ listen 127.0.0.1:{port}; return 300; }}")
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = s.recv(4096)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 300 \r\n"), data)


if __name__ == "__main__":
    unittest.main()
