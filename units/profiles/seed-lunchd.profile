# seed-lunchd: the final unit of "Avoiding complexity with systemd" (the Lunch-as-a-Service post):
# ProtectSystem=strict, ProtectHome=true, PrivateUsers=true, PrivateTmp=true, DynamicUser=yes.
protect-system-strict
protect-home-yes
private-users-yes
private-tmp-yes
dynamic-user-yes
