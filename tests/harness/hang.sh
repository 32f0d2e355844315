# SPDX-License-Identifier: GPL-2.0
# Never ends: scripts/check runs it with a short --timeout and expects status 124.
echo "sleeping forever"
while :; do sleep 60; done
