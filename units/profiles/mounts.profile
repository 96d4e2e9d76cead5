# mounts: the directives whose start-up grows with the host's mount count (systemd issues
# #37721 and #42375), for `sandbench startup --host-mounts 0,250,1000,2000`.
protect-home-yes
protect-home-read-only
protect-system-strict
protect-system-strict-read-write-paths
private-tmp-yes
private-devices-yes
