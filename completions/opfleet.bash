# bash completion for opfleet (generated from opfleet's command definition by `python -m opfleet.cli.generate`; do not edit)
_opfleet() {
    local cur prev cmd="" sub="" i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd="${COMP_WORDS[i]}"; elif [[ -z $sub ]]; then sub="${COMP_WORDS[i]}"; fi ;;
        esac
    done
    case "$prev" in
        --backend) return ;;
        --backend.timeout) return ;;
        --base-port) return ;;
        --block-time) return ;;
        --chain) return ;;
        --chain-id) return ;;
        --check-follow) return ;;
        --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --consensus.ban-period) return ;;
        --consensus.min-peer-count) return ;;
        --consensus.poller-interval) return ;;
        --data-dir) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --duration) return ;;
        --el) COMPREPLY=($(compgen -W "op-geth op-reth" -- "$cur")); return ;;
        --el-image) return ;;
        --engine) return ;;
        --fleet) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --follow) return ;;
        --for) COMPREPLY=($(compgen -W "source light supernode tui status devnet" -- "$cur")); return ;;
        --fork) return ;;
        --image) return ;;
        --interop.dependency-set) return ;;
        --interop.gate-timeout) return ;;
        --interval) return ;;
        --l1) return ;;
        --l1-fork) COMPREPLY=($(compgen -W "prague cancun" -- "$cur")); return ;;
        --l1.beacon) return ;;
        --l1.beacon.seconds-per-slot) return ;;
        --l1.http-poll-interval) return ;;
        --l1.rpc-max-batch-size) return ;;
        --l2) return ;;
        --l2.follow.payloads) return ;;
        --l2.follow.source) return ;;
        --l2.follow.source.poll-interval) return ;;
        --l2.follow.source.rpc-timeout) return ;;
        --l2.jwt-secret) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --light-max-replicas) return ;;
        --light-storage) return ;;
        --log.format) COMPREPLY=($(compgen -W "text logfmt json" -- "$cur")); return ;;
        --log.level) COMPREPLY=($(compgen -W "trace debug info warn error crit" -- "$cur")); return ;;
        --max-blocks) return ;;
        --max-derivation-lag) return ;;
        --max-safe-lag) return ;;
        --max-unsafe-lag) return ;;
        --metrics.addr) return ;;
        --metrics.port) return ;;
        --namespace) return ;;
        --network) COMPREPLY=($(compgen -W "op-mainnet op-sepolia unichain-mainnet unichain-sepolia base-mainnet base-sepolia" -- "$cur")); return ;;
        --nodes) return ;;
        --out) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --p2p.ban.duration) return ;;
        --p2p.ban.threshold) return ;;
        --p2p.bootnodes) return ;;
        --p2p.listen.ip) return ;;
        --p2p.listen.tcp) return ;;
        --p2p.priv.path) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --p2p.sequencer.key) return ;;
        --p2p.static) return ;;
        --profile) return ;;
        --prometheus) return ;;
        --proxy-image) return ;;
        --rollup.config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --rollup.l1-chain-config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --rpc.addr) return ;;
        --rpc.port) return ;;
        --safedb.path) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --sequencer.l1-confs) return ;;
        --sequencer.max-safe-lag) return ;;
        --source-storage) return ;;
        --storage-class) return ;;
        --timeout) return ;;
        --verifier.l1-confs) return ;;
        --watch) return ;;
        --window) return ;;
    esac
    case "$cmd" in
        "") COMPREPLY=($(compgen -W "source light supernode proxy tui status doctor devnet deploy decode profile version completion --help --version" -- "$cur")); return ;;
        source) COMPREPLY=($(compgen -W "--profile --network --rollup.config --rollup.l1-chain-config --l1 --l1.beacon --l1.beacon.seconds-per-slot --l1.http-poll-interval --l1.rpc-max-batch-size --verifier.l1-confs --l2 --l2.jwt-secret --rpc.addr --rpc.port --rpc.enable-admin --metrics.enabled --metrics.addr --metrics.port --safedb.path --sequencer.enabled --p2p.disable --p2p.listen.ip --p2p.listen.tcp --p2p.static --p2p.bootnodes --p2p.priv.path --p2p.sequencer.key --p2p.ban.peers --p2p.ban.threshold --p2p.ban.duration --log.level --log.format --help" -- "$cur")) ;;
        light) COMPREPLY=($(compgen -W "--profile --l2.follow.source --follow --l2.follow.source.rpc-timeout --l2.follow.source.poll-interval --l2.follow.payloads --network --rollup.config --rollup.l1-chain-config --l1 --l1.http-poll-interval --l2 --l2.jwt-secret --rpc.addr --rpc.port --rpc.enable-admin --metrics.enabled --metrics.addr --metrics.port --sequencer.enabled --p2p.disable --p2p.listen.ip --p2p.listen.tcp --p2p.static --p2p.bootnodes --p2p.priv.path --p2p.sequencer.key --p2p.ban.peers --p2p.ban.threshold --p2p.ban.duration --sequencer.max-safe-lag --sequencer.l1-confs --log.level --log.format --help" -- "$cur")) ;;
        supernode) COMPREPLY=($(compgen -W "--profile --chain --l1 --l1.beacon --l1.beacon.seconds-per-slot --l1.http-poll-interval --l1.rpc-max-batch-size --rpc.addr --rpc.port --rpc.enable-admin --metrics.enabled --metrics.addr --metrics.port --data-dir --interop.gate-timeout --interop.dependency-set --log.level --log.format --help" -- "$cur")) ;;
        proxy) COMPREPLY=($(compgen -W "--profile --config --backend --rpc.addr --rpc.port --consensus.poller-interval --consensus.ban-period --consensus.min-peer-count --backend.timeout --metrics.enabled --metrics.addr --metrics.port --log.level --log.format --help" -- "$cur")) ;;
        tui) COMPREPLY=($(compgen -W "--profile --fleet --interval --timeout --log.level --log.format --help" -- "$cur")) ;;
        status) COMPREPLY=($(compgen -W "--profile --fleet --json --watch --max-safe-lag --max-unsafe-lag --max-derivation-lag --timeout --discover --check-follow --log.level --log.format --help" -- "$cur")) ;;
        doctor) COMPREPLY=($(compgen -W "--profile --fleet --json --discover --window --prometheus --timeout --log.level --log.format --help" -- "$cur")) ;;
        devnet) COMPREPLY=($(compgen -W "--profile --l1 --nodes --interop --tui --duration --base-port --block-time --data-dir --l1-fork --engine --fork --keep-karst-upgrade-gas --log.level --log.format --help" -- "$cur")) ;;
        deploy)
            case "$sub" in
                "") COMPREPLY=($(compgen -W "kubernetes --help" -- "$cur")) ;;
                kubernetes) COMPREPLY=($(compgen -W "--fleet --out --namespace --image --el --el-image --proxy-image --source-storage --light-storage --storage-class --light-max-replicas --force --help" -- "$cur")) ;;
            esac ;;
        decode)
            case "$sub" in
                "") COMPREPLY=($(compgen -W "blob calldata channel batcher-tx --help" -- "$cur")) ;;
                blob) if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "--raw --json --help" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi ;;
                calldata) if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "--raw --json --help" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi ;;
                channel) if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "--raw --json --chain-id --max-blocks --help" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi ;;
                batcher-tx) if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "--raw --json --help" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi ;;
            esac ;;
        profile)
            case "$sub" in
                "") COMPREPLY=($(compgen -W "init show list --help" -- "$cur")) ;;
                init) COMPREPLY=($(compgen -W "--force --help" -- "$cur")) ;;
                show) COMPREPLY=($(compgen -W "--profile --for --json --help" -- "$cur")) ;;
                list) COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
            esac ;;
        version) COMPREPLY=($(compgen -W "--verbose -v --help" -- "$cur")) ;;
        completion) COMPREPLY=($(compgen -W "bash zsh fish --help" -- "$cur")) ;;
    esac
}
complete -F _opfleet opfleet
