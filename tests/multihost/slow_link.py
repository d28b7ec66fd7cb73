#!/usr/bin/env python3
"""slow_link.py QUEUE DELAY_MS LOSS SEED

A slow, lossy link for the multi-host tests, where the kernel has no netem qdisc (`tc qdisc add ... netem`
answers "Specified qdisc kind is unknown" on kernels built without CONFIG_NET_SCH_NETEM, as CI's is).
Run inside one host's network namespace, after

    iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num QUEUE --queue-bypass

it takes every packet the host sends on eth0 from netfilter queue QUEUE, holds it DELAY_MS milliseconds and
then lets it go (NF_ACCEPT), or drops it (NF_DROP) with probability LOSS, drawn from a generator seeded
with SEED: what `tc qdisc add dev eth0 root netem delay DELAY_MS loss LOSS` does to the host's egress. The
packets stay in the kernel; only their ids pass through this process (copy mode "meta"), in order.

Plain netlink (NETLINK_NETFILTER, the nfnetlink_queue protocol of linux/netfilter/nfnetlink_queue.h): no
library beyond Python's own. Prints one line with the packets seen and dropped when it ends (SIGTERM).
"""
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_GSO = 1, 4
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_DROP, NF_ACCEPT = 0, 1
SO_RCVBUFFORCE = 33


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


class Queue:
    def __init__(self, number):
        self.number = number
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        self.sock.bind((0, 0))

    def send(self, mtype, attrs, flags=0):
        self.seq += 1
        body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(self.number)) + attrs
        header = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype, NLM_F_REQUEST | flags,
                             self.seq, 0)
        self.sock.send(header + body)
        if flags & NLM_F_ACK:
            self.expect_ack()

    def expect_ack(self):
        data = self.sock.recv(65536)
        length, mtype = struct.unpack_from("=IH", data)
        if mtype == NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", data, 16)
            if error != 0:
                raise OSError(-error, "nfnetlink_queue config: " + os.strerror(-error))

    def bind(self):
        self.send(NFQNL_MSG_CONFIG, attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0)), NLM_F_ACK)
        self.send(NFQNL_MSG_CONFIG, attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)), NLM_F_ACK)
        self.send(NFQNL_MSG_CONFIG, attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 65536)), NLM_F_ACK)
        flags = NFQA_CFG_F_GSO  # whole GSO packets, as netem sees them (no segmentation for the queue)
        self.send(NFQNL_MSG_CONFIG, attr(NFQA_CFG_MASK, struct.pack("!I", flags)) +
                  attr(NFQA_CFG_FLAGS, struct.pack("!I", flags)), NLM_F_ACK)

    def verdict(self, packet_id, verdict):
        self.send(NFQNL_MSG_VERDICT, attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id)))

    def packet_ids(self, data):
        offset = 0
        while offset + 16 <= len(data):
            length, mtype = struct.unpack_from("=IH", data, offset)
            if length < 16:
                break
            if mtype == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                pos, end = offset + 20, offset + length
                while pos + 4 <= end:
                    alen, akind = struct.unpack_from("=HH", data, pos)
                    if alen < 4:
                        break
                    if akind & 0x7FFF == NFQA_PACKET_HDR:
                        yield struct.unpack_from("!I", data, pos + 4)[0]
                        break
                    pos += (alen + 3) & ~3
            offset += (length + 3) & ~3


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    number, delay, loss, seed = int(sys.argv[1]), float(sys.argv[2]) / 1000, float(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    queue = Queue(number)
    queue.bind()
    held = []  # (due time, arrival order, packet id)
    counts = {"seen": 0, "dropped": 0}
    running = [True]

    def stop(*_):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("slow_link: queue %d: delay %g ms, loss %g" % (number, delay * 1000, loss), flush=True)
    order = 0
    while running[0]:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
        try:
            readable, _, _ = select.select([queue.sock], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        if readable:
            try:
                data = queue.sock.recv(1 << 20)
            except OSError as e:  # ENOBUFS: the kernel dropped notifications; those packets stay queued
                print("slow_link: %s" % e, file=sys.stderr, flush=True)
                continue
            for packet_id in queue.packet_ids(data):
                counts["seen"] += 1
                order += 1
                heapq.heappush(held, (now + delay, order, packet_id))
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, packet_id = heapq.heappop(held)
            drop = rng.random() < loss
            counts["dropped"] += drop
            queue.verdict(packet_id, NF_DROP if drop else NF_ACCEPT)
    for _, _, packet_id in held:  # let what is still held go: the link is fast again
        queue.verdict(packet_id, NF_ACCEPT)
    print("slow_link: queue %d: %d packets, %d dropped" % (number, counts["seen"], counts["dropped"]), flush=True)


if __name__ == "__main__":
    main()
