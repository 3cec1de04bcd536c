"""What makes an event exactly-once and never lost: messageId claims, the queues, person records, failed tries."""
