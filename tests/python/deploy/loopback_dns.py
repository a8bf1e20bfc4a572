"""A DNS server for one name, on loopback, for tests: what a Kubernetes headless Service gives a
gRPC client through cluster DNS (one A record per ready pod, no load balancer in between), with
the address set under the test's control.

It answers A queries for its name with the current addresses (TTL 0, so nothing caches them),
other record types for the name with an empty answer, and any other name with NXDOMAIN. It counts
the A queries it answered, so a test can see the client re-resolve. gRPC's c-ares resolver talks
to it through the target `dns://127.0.0.1:<port>/<name>:<grpc port>`.
"""
import socket
import struct
import threading
import time

TYPE_A = 1
CLASS_IN = 1


def _read_question(packet):
    """(lower-cased name, qtype, end offset of the question) of the query's first question."""
    labels, offset = [], 12
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        labels.append(packet[offset:offset + length].decode("ascii", "replace"))
        offset += length
    qtype, _ = struct.unpack("!HH", packet[offset:offset + 4])
    return ".".join(labels).lower(), qtype, offset + 4


class LoopbackDns:
    """Serves `name` on 127.0.0.1 (a free UDP port) from a thread until close()."""

    def __init__(self, name, addresses=()):
        self.name = name.lower().rstrip(".")
        self._addresses = list(addresses)
        self._lock = threading.Lock()
        self.a_queries = 0
        self._query_times = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="loopback-dns", daemon=True)
        self._thread.start()

    def set_addresses(self, addresses):
        """The A records from now on (as the endpoints controller updates a headless Service)."""
        with self._lock:
            self._addresses = list(addresses)

    def addresses(self):
        with self._lock:
            return list(self._addresses)

    def query_times(self, since):
        """Seconds from `since` (time.monotonic()) of the A queries answered after it."""
        with self._lock:
            return [round(t - since, 2) for t in self._query_times if t >= since]

    def target(self, grpc_port):
        return f"dns://127.0.0.1:{self.port}/{self.name}:{grpc_port}"

    def close(self):
        self._closed.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self):
        while not self._closed.is_set():
            try:
                packet, peer = self._socket.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self._answer(packet)
            if reply:
                self._socket.sendto(reply, peer)

    def _answer(self, packet):
        if len(packet) < 12:
            return None
        query_id, flags, qdcount = struct.unpack("!HHH", packet[:6])
        if qdcount < 1:
            return None
        name, qtype, end = _read_question(packet)
        records = []
        rcode = 3  # NXDOMAIN
        if name == self.name:
            rcode = 0
            if qtype == TYPE_A:
                with self._lock:
                    records = list(self._addresses)
                    self.a_queries += 1
                    self._query_times.append(time.monotonic())
        # QR, opcode and RD copied from the query, RA set.
        reply_flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode
        header = struct.pack("!HHHHHH", query_id, reply_flags, 1, len(records), 0, 0)
        answers = b"".join(
            struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, 0, 4) + socket.inet_aton(address)
            for address in records)
        return header + packet[12:end] + answers
