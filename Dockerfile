# syntax=docker/dockerfile:1
# The operator image: one static binary (musl) on a distroless base, running as non-root.
#   docker build -t aims-operator:dev .
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN target="$(uname -m)-unknown-linux-musl" \
 && rustup target add "$target" \
 && CARGO_PROFILE_RELEASE_STRIP=true cargo build --release --locked --target "$target" --bin aims \
 && cp "target/$target/release/aims" /aims

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /aims /aims
USER 65532:65532
ENTRYPOINT ["/aims"]
CMD ["run"]
