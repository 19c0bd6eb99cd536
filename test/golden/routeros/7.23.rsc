# mikrotik-tailscale: RouterOS setup for the Tailscale container "tailscale"
# RouterOS 7.23 (menus from RouterOS 7.23's command tree), architecture arm64 (arm64 image).
# Safe to run more than once: each step looks at what exists first and only
# adds what is missing or sets what may differ.
# Run it with: /import file-name=<this file>
#
# NOTE: Containers need the 'container' package and device-mode:
#  /system/device-mode/update container=yes, then confirm with the reset
#  button or a cold reboot within the activation timeout.

# --- checks (nothing has been changed if one of these fails) ---
:if ([:len [/system/package/find where name="container"]] = 0) do={ :error "install the container package first (see the note above)" }
{
    :local mode [:tostr [/system/device-mode/get container]]
    :if ($mode != "true" && $mode != "yes") do={ :error "containers are not enabled: /system/device-mode/update container=yes, then press the reset button or cold-reboot" }
}

# --- RAM disk ---
# RAM disk ramdisk
:if ([:len [/disk/find where slot="ramdisk" type="tmpfs"]] = 0) do={
    /disk/add slot=ramdisk type=tmpfs tmpfs-max-size=200M
} else={
    /disk/set [/disk/find where slot="ramdisk" type="tmpfs"] tmpfs-max-size=200M
}

# --- image file ---
:if ([:len [/container/find where name="tailscale"]] = 0 && [:len [/file/find where name="ramdisk/mikrotik-tailscale-1.98.5-arm64.tar"]] = 0) do={ :error "upload mikrotik-tailscale-1.98.5-arm64.tar to ramdisk/mikrotik-tailscale-1.98.5-arm64.tar (scp, WinBox Files or /tool/fetch), then run this script again" }

# --- network, routes, container settings, environment, mounts ---
# veth veth-tailscale
:if ([:len [/interface/veth/find where name="veth-tailscale"]] = 0) do={
    /interface/veth/add name=veth-tailscale address=172.17.0.2/24 gateway=172.17.0.1
} else={
    /interface/veth/set [/interface/veth/find where name="veth-tailscale"] address=172.17.0.2/24 gateway=172.17.0.1
}
# bridge br-tailscale
:if ([:len [/interface/bridge/find where name="br-tailscale"]] = 0) do={
    /interface/bridge/add name=br-tailscale
}
# bridge port veth-tailscale on br-tailscale
:if ([:len [/interface/bridge/port/find where bridge="br-tailscale" interface="veth-tailscale"]] = 0) do={
    /interface/bridge/port/add bridge=br-tailscale interface=veth-tailscale
}
# address 172.17.0.1/24 on br-tailscale
:if ([:len [/ip/address/find where address="172.17.0.1/24" interface="br-tailscale"]] = 0) do={
    /ip/address/add address=172.17.0.1/24 interface=br-tailscale comment=mikrotik-tailscale:tailscale
} else={
    /ip/address/set [/ip/address/find where address="172.17.0.1/24" interface="br-tailscale"] comment=mikrotik-tailscale:tailscale
}
# remove old addresses on br-tailscale
:foreach i in=[/ip/address/find where comment="mikrotik-tailscale:tailscale"] do={
    :local curaddress [:tostr [/ip/address/get $i address]]
    :local curinterface [:tostr [/ip/address/get $i interface]]
    :if (!((($curaddress = "172.17.0.1/24") && ($curinterface = "br-tailscale")))) do={ /ip/address/remove $i }
}
# br-tailscale in interface list LAN
:if ([:len [/interface/list/member/find where list="LAN" interface="br-tailscale"]] = 0) do={
    /interface/list/member/add list=LAN interface=br-tailscale
}
# route 100.64.0.0/10 via 172.17.0.2
:if ([:len [/ip/route/find where dst-address="100.64.0.0/10" gateway="172.17.0.2"]] = 0) do={
    /ip/route/add dst-address=100.64.0.0/10 gateway=172.17.0.2 comment=mikrotik-tailscale:tailscale
} else={
    /ip/route/set [/ip/route/find where dst-address="100.64.0.0/10" gateway="172.17.0.2"] comment=mikrotik-tailscale:tailscale
}
# route 10.20.0.0/16 via 172.17.0.2
:if ([:len [/ip/route/find where dst-address="10.20.0.0/16" gateway="172.17.0.2"]] = 0) do={
    /ip/route/add dst-address=10.20.0.0/16 gateway=172.17.0.2 comment=mikrotik-tailscale:tailscale
} else={
    /ip/route/set [/ip/route/find where dst-address="10.20.0.0/16" gateway="172.17.0.2"] comment=mikrotik-tailscale:tailscale
}
# remove routes no longer wanted
:foreach i in=[/ip/route/find where comment="mikrotik-tailscale:tailscale"] do={
    :local curdstaddress [:tostr [/ip/route/get $i dst-address]]
    :local curgateway [:tostr [/ip/route/get $i gateway]]
    :if (!((($curdstaddress = "100.64.0.0/10") && ($curgateway = "172.17.0.2")) || (($curdstaddress = "10.20.0.0/16") && ($curgateway = "172.17.0.2")))) do={ /ip/route/remove $i }
}
# container settings
/container/config/set tmpdir=ramdisk/pull
# env TS_AUTHKEY
{
    :local secret ""
    # Not printed: paste the value between the quotes above, or generate this script with --show-secrets.
    :if ([:len [/container/envs/find where list="tailscale" key="TS_AUTHKEY"]] = 0) do={
        :if ([:len $secret] > 0) do={
            /container/envs/add list=tailscale key=TS_AUTHKEY value=$secret
        } else={
            :put "env TS_AUTHKEY: left unset (no value given)"
        }
    }
}
# env TS_HOSTNAME
:if ([:len [/container/envs/find where list="tailscale" key="TS_HOSTNAME"]] = 0) do={
    /container/envs/add list=tailscale key=TS_HOSTNAME value=office-gw
} else={
    /container/envs/set [/container/envs/find where list="tailscale" key="TS_HOSTNAME"] value=office-gw
}
# env TS_ROUTES
:if ([:len [/container/envs/find where list="tailscale" key="TS_ROUTES"]] = 0) do={
    /container/envs/add list=tailscale key=TS_ROUTES value=192.168.88.0/24
} else={
    /container/envs/set [/container/envs/find where list="tailscale" key="TS_ROUTES"] value=192.168.88.0/24
}
# env TS_ADVERTISE_EXIT_NODE
:if ([:len [/container/envs/find where list="tailscale" key="TS_ADVERTISE_EXIT_NODE"]] = 0) do={
    /container/envs/add list=tailscale key=TS_ADVERTISE_EXIT_NODE value=true
} else={
    /container/envs/set [/container/envs/find where list="tailscale" key="TS_ADVERTISE_EXIT_NODE"] value=true
}
# env TS_ACCEPT_ROUTES
:if ([:len [/container/envs/find where list="tailscale" key="TS_ACCEPT_ROUTES"]] = 0) do={
    /container/envs/add list=tailscale key=TS_ACCEPT_ROUTES value=true
} else={
    /container/envs/set [/container/envs/find where list="tailscale" key="TS_ACCEPT_ROUTES"] value=true
}
# env TS_LOGIN_SERVER
:if ([:len [/container/envs/find where list="tailscale" key="TS_LOGIN_SERVER"]] = 0) do={
    /container/envs/add list=tailscale key=TS_LOGIN_SERVER value=https://headscale.example.com
} else={
    /container/envs/set [/container/envs/find where list="tailscale" key="TS_LOGIN_SERVER"] value=https://headscale.example.com
}
# env TS_STATE_DIR
:if ([:len [/container/envs/find where list="tailscale" key="TS_STATE_DIR"]] = 0) do={
    /container/envs/add list=tailscale key=TS_STATE_DIR value=/var/lib/tailscale
} else={
    /container/envs/set [/container/envs/find where list="tailscale" key="TS_STATE_DIR"] value=/var/lib/tailscale
}
# env TS_ACCEPT_DNS
:if ([:len [/container/envs/find where list="tailscale" key="TS_ACCEPT_DNS"]] = 0) do={
    /container/envs/add list=tailscale key=TS_ACCEPT_DNS value=true
} else={
    /container/envs/set [/container/envs/find where list="tailscale" key="TS_ACCEPT_DNS"] value=true
}
# env TS_AUTH_ONCE
:if ([:len [/container/envs/find where list="tailscale" key="TS_AUTH_ONCE"]] = 0) do={
    /container/envs/add list=tailscale key=TS_AUTH_ONCE value=true
} else={
    /container/envs/set [/container/envs/find where list="tailscale" key="TS_AUTH_ONCE"] value=true
}
# remove envs no longer wanted in tailscale
:foreach i in=[/container/envs/find where list="tailscale"] do={
    :local curkey [:tostr [/container/envs/get $i key]]
    :if (!(($curkey = "TS_AUTHKEY") || ($curkey = "TS_HOSTNAME") || ($curkey = "TS_ROUTES") || ($curkey = "TS_ADVERTISE_EXIT_NODE") || ($curkey = "TS_ACCEPT_ROUTES") || ($curkey = "TS_LOGIN_SERVER") || ($curkey = "TS_STATE_DIR") || ($curkey = "TS_ACCEPT_DNS") || ($curkey = "TS_AUTH_ONCE"))) do={ /container/envs/remove $i }
}
# mount tailscale/state -> /var/lib/tailscale
:if ([:len [/container/mounts/find where list="tailscale-state" dst="/var/lib/tailscale"]] = 0) do={
    /container/mounts/add list=tailscale-state dst=/var/lib/tailscale src=tailscale/state mode=rw
} else={
    /container/mounts/set [/container/mounts/find where list="tailscale-state" dst="/var/lib/tailscale"] src=tailscale/state mode=rw
}
# remove mounts no longer wanted in tailscale-state
:foreach i in=[/container/mounts/find where list="tailscale-state"] do={
    :local curdst [:tostr [/container/mounts/get $i dst]]
    :if (!(($curdst = "/var/lib/tailscale"))) do={ /container/mounts/remove $i }
}

# --- container, MagicDNS forwarding, start ---
{
    :local ctState do={
        :local s "unknown"
        :do { :set s [:tostr [/container/get $1 status]] } on-error={
            :if ([/container/get $1 stopped]) do={ :set s "stopped" }
            :if ([/container/get $1 "downloading/extracting"]) do={ :set s "extracting" }
            :if ([/container/get $1 "download/extract failed"]) do={ :set s "error" }
            :if ([/container/get $1 starting]) do={ :set s "starting" }
            :if ([/container/get $1 stopping]) do={ :set s "stopping" }
            :if ([/container/get $1 running]) do={ :set s "running" }
        }
        :return $s
    }
    :if ([:len [/container/find where name="tailscale"]] = 0) do={
        /container/add name=tailscale file=ramdisk/mikrotik-tailscale-1.98.5-arm64.tar root-dir=tailscale/root interface=veth-tailscale envlists=tailscale mountlists=tailscale-state hostname=office-gw entrypoint=/usr/local/bin/entrypoint tmpfs=1M@/var/run/tailscale memory-max=96M memory-high=84M restart-policy=on-failure restart-interval=10s restart-max-count=10 healthcheck-cmd=/usr/local/bin/healthcheck healthcheck-interval=30s healthcheck-timeout=10s healthcheck-retries=3 healthcheck-start-period=30s stop-on-unhealthy=no logging=yes start-on-boot=yes
        :put "tailscale: waiting for the image to be extracted..."
        :local n 0
        :while ([$ctState [/container/find where name="tailscale"]] = "extracting") do={
            :if ($n >= 600) do={ :error "tailscale: still extracting after 600 s" }
            :delay 1s
            :set n ($n + 1)
        }
        :if ([$ctState [/container/find where name="tailscale"]] != "stopped") do={ :error "tailscale: extraction failed; see /log/print where topics~\"container\"" }
        /file/remove [/file/find where name="ramdisk/mikrotik-tailscale-1.98.5-arm64.tar"]
    } else={
        :if ([$ctState [/container/find where name="tailscale"]] = "stopped") do={
            /container/set [/container/find where name="tailscale"] interface=veth-tailscale envlists=tailscale mountlists=tailscale-state hostname=office-gw entrypoint=/usr/local/bin/entrypoint tmpfs=1M@/var/run/tailscale memory-max=96M memory-high=84M restart-policy=on-failure restart-interval=10s restart-max-count=10 healthcheck-cmd=/usr/local/bin/healthcheck healthcheck-interval=30s healthcheck-timeout=10s healthcheck-retries=3 healthcheck-start-period=30s stop-on-unhealthy=no logging=yes start-on-boot=yes
        } else={
            :put "tailscale: exists and is not stopped; its own settings are left as they are (stop it and run this script again to apply changes)"
        }
    }
    # DNS: forward tailnet names to MagicDNS
    # DNS forward ts.net -> 100.100.100.100
    :if ([:len [/ip/dns/static/find where name="ts.net" type="FWD"]] = 0) do={
        /ip/dns/static/add name=ts.net type=FWD forward-to=100.100.100.100 match-subdomain=yes comment=mikrotik-tailscale:tailscale
    } else={
        /ip/dns/static/set [/ip/dns/static/find where name="ts.net" type="FWD"] forward-to=100.100.100.100 match-subdomain=yes comment=mikrotik-tailscale:tailscale
    }
    # remove DNS forwards no longer wanted
    :foreach i in=[/ip/dns/static/find where comment="mikrotik-tailscale:tailscale"] do={
        :local curname [:tostr [/ip/dns/static/get $i name]]
        :local curtype [:tostr [/ip/dns/static/get $i type]]
        :if (!((($curname = "ts.net") && ($curtype = "FWD")))) do={ /ip/dns/static/remove $i }
    }
    # start
    :local c [/container/find where name="tailscale"]
    :if ([$ctState $c] = "stopped") do={
        /container/start $c
        :local n 0
        :while ([$ctState $c] != "running" && $n < 60) do={ :delay 1s; :set n ($n + 1) }
    }
    :put ("tailscale: " . [$ctState $c])
}
