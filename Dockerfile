# syntax=docker/dockerfile:1
# One image with the three binaries: sealgate-controller (default), sealgate-webhook, sealgate.
#   docker build -t ghcr.io/sealgate/sealgate:0.1.0 .
# The chart's default image is ghcr.io/sealgate/sealgate:<appVersion>.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sealgate -p sealgate-controller -p sealgate-webhook \
 && mkdir /out \
 && cp target/release/sealgate target/release/sealgate-controller target/release/sealgate-webhook /out/

# glibc and CA certificates, no shell, no package manager; runs as 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/sealgate-controller"]
