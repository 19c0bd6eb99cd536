module github.com/mikrotik-tailscale/mikrotik-tailscale/tools/vminit

go 1.26.6
