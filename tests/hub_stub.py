"""A local stand-in for the Hugging Face Hub API on 127.0.0.1 (search, file tree, file download), so the public
dataset search is tested through the real huggingface_hub client with HF_ENDPOINT pointing here."""
from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

COMMIT = "0" * 40


def make_handler(datasets: dict[str, dict[str, bytes]], requests: list[str]):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json", head: bool = False,
                  extra: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _route(self, head: bool):
            url = urlparse(self.path)
            path = unquote(url.path)
            requests.append(f"{self.command} {path}")
            if path == "/api/datasets":
                words = parse_qs(url.query).get("search", [""])[0].lower()
                found = [{"id": name, "downloads": 10 * len(files), "likes": 1}  # every word in the name
                         for name, files in datasets.items() if all(w in name.lower() for w in words.split())]
                return self._send(200, json.dumps(found).encode(), head=head)
            for name, files in datasets.items():
                if path.startswith(f"/api/datasets/{name}/tree/"):
                    tree = [{"type": "file", "path": f, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                            for f, b in files.items()]
                    return self._send(200, json.dumps(tree).encode(), head=head)
                prefix = f"/datasets/{name}/resolve/main/"
                if path.startswith(prefix) and path[len(prefix):] in files:
                    body = files[path[len(prefix):]]
                    etag = f'"{hashlib.sha1(body).hexdigest()}"'
                    return self._send(200, body, "application/octet-stream", head,
                                      {"ETag": etag, "X-Repo-Commit": COMMIT})
            return self._send(404, b'{"error": "not found"}', head=head,
                              extra={"X-Error-Code": "RepoNotFound"})

        def do_GET(self):
            self._route(head=False)

        def do_HEAD(self):
            self._route(head=True)

    return Handler


@contextmanager
def hub_stub(datasets: dict[str, dict[str, bytes]]):
    """Serves the datasets ({repo id: {file name: bytes}}) and yields (endpoint URL, list of requests seen)."""
    requests: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(datasets, requests))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
