"""``ray start``, its node kept on loopback: ``python tests/ray_launch.py start ARGS...``.

Ray (2.60) rewrites a loopback ``--node-ip-address`` (and a loopback ``--address``) to the
machine's own address on Linux, so that other machines can reach the node; its servers then
listen on every interface. A test cluster must stay on 127.0.0.1: this runs Ray's own ``ray
start`` command with that one rewrite left out, and nothing else changed.
"""

import sys

from ray._private import services
from ray.scripts.scripts import main

services.resolve_ip_for_localhost = lambda host: host

if __name__ == "__main__":
    sys.exit(main())
