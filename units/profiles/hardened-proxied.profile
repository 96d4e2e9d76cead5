# hardened-proxied: every directive lunchd-backend tolerates behind nginx (plain HTTP on a passed
# socket; nginx holds the key). The directives apply to the backend; nginx runs as shipped.
# Not from `sandbench advise`: advise measures one service at its URL, and the backend has no URL
# of its own (nginx reaches it over a unix socket). The backend is not a public service — its only
# client is nginx on the same machine — so the network-cutting directives (PrivateNetwork=,
# RestrictAddressFamilies=AF_UNIX, IPAddressDeny=) are deployable here, unlike for the other three.
protect-system-strict
protect-home-yes
private-tmp-yes
private-devices-yes
private-mounts-yes
no-new-privileges-yes
notify-access-main
keyring-mode-private
protect-control-groups-yes
protect-kernel-modules-yes
protect-kernel-tunables-yes
protect-kernel-logs-yes
protect-clock-yes
protect-hostname-yes
protect-proc-invisible
proc-subset-pid
restrict-namespaces-yes
device-policy-closed
system-call-architectures-native
system-call-filter-system-service
restrict-realtime-yes
restrict-suid-sgid-yes
lock-personality-yes
memory-deny-write-execute-yes
remove-ipc-yes
supplementary-groups-none
ambient-capabilities-none
umask-0077
dynamic-user-yes
private-users-yes
private-network-yes
restrict-address-families-unix
ip-address-deny-any-allow-localhost
capability-bounding-set-empty
system-call-filter-deny-privileged-resources
