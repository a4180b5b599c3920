#!/bin/bash
#
# DevStack plugin for VSM: automatic online growth of VM storage.
#
# Enable it in local.conf:
#
#   [[local|localrc]]
#   enable_plugin vsm https://opendev.org/openstack/vsm
#
# stack.sh then installs VSM from this checkout, tells nova-api to send
# VSM its notifications, writes /etc/vsm/vsm.conf, creates VSM's database,
# bootstraps Keystone (service, endpoint, roles, limits) and starts
# vsm-authz-listener (devstack@vsm-authz-listener). Settings: devstack/settings.

source $(dirname ${BASH_SOURCE[0]})/lib/vsm

if is_vsm_enabled; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing VSM"
        install_vsm

    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring VSM"
        if is_service_enabled n-api; then
            configure_nova_for_vsm
        fi
        configure_vsm

    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Initializing and starting VSM"
        vsm_create_accounts
        start_vsm
    fi

    if [[ "$1" == "unstack" ]]; then
        echo_summary "Stopping VSM"
        stop_vsm
    fi

    if [[ "$1" == "clean" ]]; then
        echo_summary "Cleaning VSM"
        cleanup_vsm
    fi
fi
