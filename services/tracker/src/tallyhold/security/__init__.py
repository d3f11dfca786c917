"""What the customer needs to lock their exchange keys down: the instance's egress IPs."""
