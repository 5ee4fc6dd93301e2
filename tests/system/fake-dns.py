#!/usr/bin/env python3
"""A fake DNS resolver for the system tests: fake-dns.py ADDR PORT ANSWER.

Listens on UDP ADDR:PORT (loopback only) and answers every query with one
A record for ANSWER (TTL 60), echoing the question. No parsing beyond
finding the end of the question."""
import socket
import sys

addr, port, answer = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ip = socket.inet_aton(answer)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
while True:
    q, a = s.recvfrom(4096)
    end = 12
    while q[end]:
        end += 1 + q[end]
    end += 5
    r = q[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:end]
    r += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + ip
    s.sendto(r, a)
