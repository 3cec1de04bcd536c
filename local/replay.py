"""`make replay`: one redrive run against the running `make dev` stack, then a summary.
`make unpark`: move parked messages back to the dead-letter queue (after fixing their cause).

Uses the same ports as `make dev` (SANDBOX_PORT, AWS_PORT) and the real redrive function.
"""

from __future__ import annotations

import argparse

import boto3

from local import stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unpark", action="store_true", help="move parked messages back to the dead-letter queue")
    args = parser.parse_args()
    resources, _ = stack.attach_to_dev()
    from intercom_destination.durability.queue import Queue
    from intercom_destination.replay.unpark import unpark

    sqs = boto3.client("sqs", endpoint_url=resources.endpoint)
    dead_letters = Queue(sqs, resources.dead_letter_queue_url)
    parking = Queue(sqs, resources.parking_queue_url)
    if args.unpark:
        print(f"moved {unpark(parking, dead_letters)} parked message(s) back to the dead-letter queue")
        return
    from intercom_destination.replay.summary import Summary

    summary = Summary(**stack.invoke(stack.load_redrive()))
    print(summary.describe())
    print(f"still queued {dead_letters.depth()}  parked {parking.depth()}")


if __name__ == "__main__":
    main()
