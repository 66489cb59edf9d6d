#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its prompts, as a person at a terminal would.

Usage: pty-session.py TIMEOUT_SECONDS COMMAND [ARGS...]
Standard input: a JSON list of [regex, reply] pairs, answered in order: when the terminal output since the
previous answer matches the regex, the reply is typed (a newline is added).
Standard output: one JSON object {"status": exit status (or -signal), "transcript": everything the terminal
showed, typed characters included whenever the program left echo on, "unanswered": prompts never seen}.
"""
import json
import os
import pty
import re
import select
import sys
import time


def main():
    timeout = float(sys.argv[1])
    command = sys.argv[2:]
    script = json.load(sys.stdin)
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    transcript = b""
    pending = 0  # transcript offset the next prompt is looked for from
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, 9)
            break
        ready, _, _ = select.select([master], [], [], min(remaining, 0.2))
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            transcript += chunk
        if script:
            pattern, reply = script[0]
            match = re.search(pattern.encode(), transcript[pending:])
            if match:
                # Typed at once: the program turns echo off before it prompts, so a prompt seen means echo is off.
                os.write(master, reply.encode() + b"\n")
                pending += match.end()
                script.pop(0)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    json.dump({"status": code, "transcript": transcript.decode("utf-8", "replace"),
               "unanswered": [pattern for pattern, _ in script]}, sys.stdout)


if __name__ == "__main__":
    main()
