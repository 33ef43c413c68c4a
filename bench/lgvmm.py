#!/usr/bin/env python3
"""lgvmm benchmarks, side by side with QEMU microvm where comparable.

    bench/lgvmm.py [--runs N] [--build DIR]

Measures (medians of N runs, wall clock on this host):
  api-ready     process start -> API socket accepts a connection
                (QEMU: -S with a QMP socket -> QMP greeting received)
  first-insn    process start -> first byte the guest writes to its UART,
                with the VM configured from a file (QEMU: -kernel, PVH)
  exits         one PIO and one MMIO exit round trip (ring-3 test guest)
  rss           VMM resident memory above guest memory, guest running
                (QEMU: the same, its guest RAM mapping excluded)
  restore       PUT /snapshot/load with resume_vm into a fresh lgvmm
                (API ready) until the request returns: state file read,
                VM and devices built, memory file mapped, vCPUs started;
                and, from tests/vmm/snapshot/test-snapshot-vm, restore to
                the restored guest's first exit

The guest is tests/vmm/lgvmm/console-guest.S, a PVH guest that prints at
once. On a host whose KVM emulates ring 0 (kvm_pvm, see ENVIRONMENT.md)
QEMU runs with TCG and the numbers show VMM overheads, not guest speed.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_ms(samples):
    return statistics.median(samples) * 1000.0


def wait_connect(path, proc, deadline=5.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            time.sleep(0.0002)
    raise RuntimeError("socket never accepted")


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def bench_api_ready(lgvmm, work):
    sock = os.path.join(work, "api.sock")
    out = []
    for _ in range(ARGS.runs):
        t0 = time.monotonic()
        p = subprocess.Popen([lgvmm, "--api-sock", sock],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        s = wait_connect(sock, p)
        out.append(time.monotonic() - t0)
        s.close()
        stop(p)
        if os.path.exists(sock):
            os.unlink(sock)
    return out


def bench_qmp_ready(qemu, work):
    sock = os.path.join(work, "qmp.sock")
    out = []
    for _ in range(ARGS.runs):
        t0 = time.monotonic()
        p = subprocess.Popen([qemu, "-M", "microvm,acpi=off", "-accel", "tcg",
                              "-S", "-nodefaults", "-no-user-config",
                              "-display", "none", "-m", "128",
                              "-qmp", f"unix:{sock},server=on,wait=off"],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        s = wait_connect(sock, p)
        s.recv(4096)  # the greeting: QMP is ready
        out.append(time.monotonic() - t0)
        s.close()
        stop(p)
        if os.path.exists(sock):
            os.unlink(sock)
    return out


def first_byte(argv):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    b = p.stdout.read(1)
    t = time.monotonic() - t0
    stop(p)
    if not b:
        raise RuntimeError(f"{argv[0]}: no guest output")
    return t


def write_config(work, guest, mode, mem):
    path = os.path.join(work, f"vm-{mode}-{mem}.json")
    with open(path, "w") as f:
        json.dump({"boot-source": {"kernel_image_path": guest,
                                   "boot_args": f"mode={mode}"},
                   "machine-config": {"vcpu_count": 1,
                                      "mem_size_mib": mem}}, f)
    return path


def bench_first_insn(lgvmm, guest, work):
    cfg = write_config(work, guest, "h", 128)
    return [first_byte([lgvmm, "--no-api", "--config-file", cfg])
            for _ in range(ARGS.runs)]


def qemu_argv(qemu, guest, mode, mem):
    return [qemu, "-M", "microvm,acpi=off,isa-serial=on", "-accel", "tcg",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-m", str(mem), "-kernel", guest, "-append", f"mode={mode}",
            "-serial", "stdio", "-no-reboot"]


def bench_qemu_first_insn(qemu, guest):
    return [first_byte(qemu_argv(qemu, guest, "h", 128))
            for _ in range(ARGS.runs)]


def rss_outside(pid, ram_bytes):
    """Resident KiB of all mappings except the guest RAM one(s)."""
    total = 0
    size = 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line)
            if m:
                lo, hi = line.split()[0].split("-")
                size = int(hi, 16) - int(lo, 16)
                continue
            if line.startswith("Rss:") and size < ram_bytes:
                total += int(line.split()[1])
    return total


def bench_rss(argv, mem):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdout.readline()
    time.sleep(0.5)
    kib = rss_outside(p.pid, mem << 20)
    stop(p)
    return kib


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def api(sock, method, path, body=None):
    c = UnixHTTP(sock)
    c.request(method, path, body=json.dumps(body) if body is not None
              else None, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data!r}")
    return data


def make_snapshot(lgvmm, guest, work, mem):
    sock = os.path.join(work, "snap.sock")
    p = subprocess.Popen([lgvmm, "--api-sock", sock],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    wait_connect(sock, p).close()
    api(sock, "PUT", "/boot-source", {"kernel_image_path": guest,
                                      "boot_args": "mode=t"})
    api(sock, "PUT", "/machine-config", {"vcpu_count": 1,
                                         "mem_size_mib": mem})
    api(sock, "PUT", "/actions", {"action_type": "InstanceStart"})
    p.stdout.readline()
    api(sock, "PATCH", "/vm", {"state": "Paused"})
    state = os.path.join(work, f"vm-{mem}.state")
    memf = os.path.join(work, f"vm-{mem}.mem")
    api(sock, "PUT", "/snapshot/create", {"snapshot_path": state,
                                          "mem_file_path": memf})
    stop(p)
    return state, memf


def bench_restore(lgvmm, guest, work, mem):
    state, memf = make_snapshot(lgvmm, guest, work, mem)
    sock = os.path.join(work, "load.sock")
    out = []
    for _ in range(ARGS.runs):
        p = subprocess.Popen([lgvmm, "--api-sock", sock],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        wait_connect(sock, p).close()
        t0 = time.monotonic()
        api(sock, "PUT", "/snapshot/load",
            {"snapshot_path": state, "resume_vm": True,
             "mem_backend": {"backend_type": "File", "backend_path": memf}})
        out.append(time.monotonic() - t0)
        stop(p)
        if os.path.exists(sock):
            os.unlink(sock)
    os.unlink(memf)
    return out


def bench_exits(build):
    exe = os.path.join(build, "tests/vmm/test-vmm")
    env = dict(os.environ,
               LG_VMM_GUEST_DIR=os.path.join(build, "tests/vmm"))
    r = subprocess.run([exe], env=env, capture_output=True, text=True)
    m = re.search(r"PIO exit round trip (\d+) ns, MMIO (\d+) ns", r.stdout)
    return (int(m.group(1)), int(m.group(2))) if m else None


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ARGS = ap.parse_args()
    lgvmm = os.path.join(ARGS.build, "src/vmm/lgvmm")
    guest = os.path.join(ARGS.build, "tests/vmm/lgvmm/console-guest.elf")
    for f in (lgvmm, guest):
        if not os.path.exists(f):
            sys.exit(f"missing {f}: build first (make build)")
    qemu = shutil.which("qemu-system-x86_64")
    work = tempfile.mkdtemp(prefix="lgvmm-bench.")
    try:
        report(lgvmm, guest, qemu, work)
    finally:
        shutil.rmtree(work)


def line(name, ours, theirs=None, unit="ms"):
    s = f"{name:<34} lgvmm {ours:8.2f} {unit}"
    if theirs is not None:
        s += f"   qemu {theirs:8.2f} {unit}   ratio {ours / theirs:6.3f}"
    print(s, flush=True)


def report(lgvmm, guest, qemu, work):
    print(f"# {ARGS.runs} runs each, medians; kvm module: "
          f"{'kvm_pvm (ring 0 emulated)' if os.path.isdir('/sys/module/kvm_pvm') else 'kvm'}")
    a = median_ms(bench_api_ready(lgvmm, work))
    q = median_ms(bench_qmp_ready(qemu, work)) if qemu else None
    line("API socket ready", a, q)
    a = median_ms(bench_first_insn(lgvmm, guest, work))
    q = median_ms(bench_qemu_first_insn(qemu, guest)) if qemu else None
    line("start to first guest UART byte", a, q)
    cfg = write_config(work, guest, "t", 128)
    a = bench_rss([lgvmm, "--no-api", "--config-file", cfg], 128) / 1024.0
    q = (bench_rss(qemu_argv(qemu, guest, "t", 128), 128) / 1024.0
         if qemu else None)
    line("RSS above guest memory (128 MiB)", a, q, "MiB")
    ex = bench_exits(ARGS.build)
    if ex:
        print(f"{'PIO exit round trip':<34} lgvmm {ex[0] / 1000.0:8.2f} us")
        print(f"{'MMIO exit round trip':<34} lgvmm {ex[1] / 1000.0:8.2f} us")
    for mem in (128, 1024):
        a = median_ms(bench_restore(lgvmm, guest, work, mem))
        line(f"snapshot load + resume ({mem} MiB)", a)
    snap = os.path.join(ARGS.build, "tests/vmm/snapshot/test-snapshot-vm")
    if os.path.exists(snap):
        env = dict(os.environ,
                   LG_VMM_GUEST_DIR=os.path.join(ARGS.build, "tests/vmm"))
        r = subprocess.run([snap], capture_output=True, text=True, env=env)
        for ln in r.stdout.splitlines():
            m = re.match(r"\s*restore (128|1024) MiB: (.*)", ln)
            if m:
                print(f"# test-snapshot-vm, restore {m.group(1)} MiB: "
                      f"{m.group(2)}")


if __name__ == "__main__":
    main()
