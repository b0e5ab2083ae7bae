//! Every command line the chart renders for the controller is one the controller
//! accepts: a flag renamed or removed in the binary fails here, not in a pod.
//! Needs helm (see `sealgate_tests::helm`); skipped with a message without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn the_controller_accepts_every_command_line_the_chart_renders() {
    let Some(helm) = sealgate_tests::helm() else {
        eprintln!("skipped: no helm (set SEALGATE_HELM or run .ci/install-helm.sh)");
        return;
    };
    for extra in [
        &[][..],
        &["--set", "controller.replicas=3", "--set", "logFormat=json"],
        &["-f", "ci/all-options-values.yaml"],
    ] {
        let args = sealgate_tests::chart_args(&helm, "sealgate-controller", extra);
        assert!(!args.is_empty(), "{extra:?}");
        if let Err(e) = sealgate_tests::accepts(env!("CARGO_BIN_EXE_sealgate-controller"), &args) {
            panic!("with {extra:?} the chart passes {args:?}, which the controller refuses:\n{e}");
        }
    }
}
