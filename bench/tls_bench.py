"""Benchmark: the TLS check of many loopback endpoints at once.

Starts N TLS servers on 127.0.0.1 in separate server process(es) (default 200, in the MedMij-good
backchannel configuration with mutual TLS; every tenth one with a fault, so failing paths are
exercised too), then checks all of them concurrently with one shared connection limiter (at most
``--connections`` per host:port), exactly as ``validatiestraat tls check URL…`` does. Prints the
total wall time, per-endpoint timings and the connection rate.

Usage: python bench/tls_bench.py [--endpoints 200] [--server-processes 1] [--connections 6]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from validatiestraat.reference.pki import TestPKI  # noqa: E402
from validatiestraat.tls.faults import server_context  # noqa: E402
from validatiestraat.tls.loopback import LoopbackHub  # noqa: E402
from validatiestraat.tls.policy import TlsPolicy  # noqa: E402
from validatiestraat.tls.scan import scan_many  # noqa: E402

FAULTS = ["tls-cbc-suite", "tls-no-client-auth", "tls-expired-certificate", "tls-allow-tls10"]


def serve(pki_dir: str, count: int, offset: int, conn) -> None:
    """Child process: ``count`` listeners; sends their ports, then waits for 'stop'."""
    pki = _load_pki(Path(pki_dir))
    contexts = {None: server_context(pki)}
    for fault in FAULTS:
        contexts[fault] = server_context(pki, [fault], workdir=Path(pki_dir) / f"w-{offset}")
    with LoopbackHub() as hub:
        ports = []
        for i in range(offset, offset + count):
            fault = FAULTS[(i // 10) % len(FAULTS)] if i % 10 == 9 else None
            ports.append((hub.serve(contexts[fault]), fault))
        conn.send(ports)
        conn.recv()


def _load_pki(directory: Path) -> TestPKI:
    """Re-read the PKI the parent wrote (same CA and certificates in every process)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from validatiestraat.reference.pki import Issued

    def load(stem: str) -> Issued:
        cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
        key = load_pem_private_key(key_path.read_bytes(), None)
        return Issued(cert, key, cert_path, key_path)  # type: ignore[arg-type]

    return TestPKI(directory, load("ca"), load("server"), load("client"), load("other-client"),
                   load("untrusted-client"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--server-processes", type=int, default=1)
    parser.add_argument("--connections", type=int, default=6, help="per host:port")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tls-bench-") as tmp:
        pki = TestPKI.generate(Path(tmp))
        ctx = mp.get_context("spawn")
        per = -(-args.endpoints // args.server_processes)
        children, pipes, ports = [], [], []
        for k in range(args.server_processes):
            count = min(per, args.endpoints - k * per)
            if count <= 0:
                break
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=serve, args=(tmp, count, k * per, child), daemon=True)
            proc.start()
            children.append(proc)
            pipes.append(parent)
        for p in pipes:
            ports += p.recv()
        policy = TlsPolicy(channel="backchannel", trust=[pki.ca_path], issuing_cas=["validatiestraat Test Root CA"],
                           client_cert=pki.client.cert_path, client_key=pki.client.key_path,
                           untrusted_cert=pki.untrusted_client.cert_path, untrusted_key=pki.untrusted_client.key_path,
                           per_server=args.connections, timeout=10.0, total_timeout=120.0)
        # one endpoint alone first (the "under 2 s" figure)
        t0 = time.perf_counter()
        single = asyncio.run(scan_many([(f"https://localhost:{ports[0][0]}/fhir", policy)]))[0]
        one = time.perf_counter() - t0
        urls = [(f"https://localhost:{port}/fhir", policy) for port, _ in ports]
        t0, c0 = time.perf_counter(), time.process_time()
        reports = asyncio.run(scan_many(urls, per_server=args.connections))
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        for p in pipes:
            p.send("stop")
        for proc in children:
            proc.join(10)

    durations = [r.duration_ms / 1000 for r in reports]
    connections = sum(r.connections for r in reports)
    by_status: dict[str, int] = {}
    for r in reports:
        by_status[r.status.value] = by_status.get(r.status.value, 0) + 1
    expected_fail = sum(1 for _, fault in ports if fault)
    wrong = [r.url for r, (_, fault) in zip(reports, ports) if (r.status.value == "fail") != bool(fault)]
    print(f"one endpoint alone:        {one:.3f} s ({single.connections} connections, status {single.status.value})")
    print(f"{len(reports)} endpoints concurrently: {total:.2f} s total "
          f"({len(reports) / total:.1f} endpoints/s, {connections} connections, {connections / total:.0f} conn/s)")
    print(f"scanner CPU time: {cpu:.2f} s ({cpu / len(reports) * 1000:.0f} ms per endpoint; the rest is the servers)")
    print(f"per endpoint: median {statistics.median(durations):.2f} s, "
          f"p95 {sorted(durations)[int(0.95 * (len(durations) - 1))]:.2f} s, max {max(durations):.2f} s")
    print(f"statuses: {by_status} (expected {expected_fail} fail from faults); "
          f"{'all as expected' if not wrong else f'{len(wrong)} UNEXPECTED: {wrong[:3]}'}")
    print(f"server processes: {len(children)}, connections per host:port: {args.connections}")
    return 0 if not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())
