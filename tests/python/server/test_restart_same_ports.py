"""ribbond killed with -9 while clients hold connections comes back on the same ports at once
(the soak's crash drill, tests/soak, found the OpenAI listener refusing to bind for a minute:
the killed process's connections sat in FIN_WAIT/TIME_WAIT and the acceptor lacked
SO_REUSEADDR, which gRPC's listener sets)."""
import signal
import socket

import ribbond_harness as h


def open_keepalive(port):
    """A connection the server has answered and that the client keeps open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    return sock


def test_restart_after_kill_9_binds_the_same_ports(start_ribbond):
    first = start_ribbond()
    held = [open_keepalive(first.openai_port) for _ in range(4)]
    stub = first.stub()
    request = h.pb.GenerateRequest(token_ids=h.pb.TokenIds(ids=[1, 403, 407]), max_new_tokens=4)
    assert len(stub.Complete(request, timeout=30).token_ids) == 4
    first.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    again = start_ribbond("--listen", f"127.0.0.1:{first.grpc_port}",
                          "--http-listen", f"127.0.0.1:{first.http_port}",
                          "--openai.listen", f"127.0.0.1:{first.openai_port}")
    assert (again.grpc_port, again.http_port, again.openai_port) == \
        (first.grpc_port, first.http_port, first.openai_port)
    assert len(again.stub().Complete(request, timeout=30).token_ids) == 4
    open_keepalive(again.openai_port).close()
    for sock in held:
        sock.close()
