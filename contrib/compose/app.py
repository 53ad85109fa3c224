"""A small HTTP service with a slow leak: every request to /report caches a
100 KB rendering that is never evicted.  Attach to it with memprof and the
top site is render() below."""

import http.server

CACHE = {}


def render(n):
    return ("row %d\n" % n).encode() * 12000


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = len(CACHE)
        body = CACHE.setdefault(n, render(n))[:64]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
