//! Every command line the chart renders for the webhook is one the webhook
//! accepts: a flag renamed or removed in the binary fails here, not in a pod.
//! Needs helm (see `sealgate_tests::helm`); skipped with a message without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn the_webhook_accepts_every_command_line_the_chart_renders() {
    let Some(helm) = sealgate_tests::helm() else {
        eprintln!("skipped: no helm (set SEALGATE_HELM or run .ci/install-helm.sh)");
        return;
    };
    for extra in [
        &[][..],
        &[
            "--set",
            "webhook.tls.certManager.enabled=true",
            "--set",
            "webhook.tls.certManager.issuerRef.name=ca",
        ],
        &["--set", "webhook.readSecrets=false", "--set", "logFormat=json"],
        &["-f", "ci/all-options-values.yaml"],
    ] {
        let args = sealgate_tests::chart_args(&helm, "sealgate-webhook", extra);
        assert!(!args.is_empty(), "{extra:?}");
        if let Err(e) = sealgate_tests::accepts(env!("CARGO_BIN_EXE_sealgate-webhook"), &args) {
            panic!("with {extra:?} the chart passes {args:?}, which the webhook refuses:\n{e}");
        }
    }
}
