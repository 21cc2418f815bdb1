# Multi-stage build: compile with the pinned toolchain, run as an unprivileged user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/dialogpay

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/dialogpay --create-home dialogpay
COPY --from=build /src/target/release/dialogpay /usr/local/bin/dialogpay
COPY config /etc/dialogpay/config
ENV DIALOGPAY_CONFIG_DIR=/etc/dialogpay/config \
    DIALOGPAY__SERVER__HOST=0.0.0.0 \
    DIALOGPAY__DATABASE__URL=sqlite:///var/lib/dialogpay/dialogpay.db
USER dialogpay
WORKDIR /var/lib/dialogpay
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["dialogpay"]
CMD ["serve"]
