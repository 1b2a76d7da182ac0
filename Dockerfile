# find-capacity as a container image: the controller and the agents run the same image (same version, same
# protocol). Build: docker build -t find-capacity:0.1.0 .   Run: docs/distributed.md ("On Kubernetes").
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production
# Runtime dependencies only; the sources run through tsx (a runtime dependency), so no build step is needed.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY profiles ./profiles

# The node image's unprivileged user (uid 1000, as the manifests' securityContext expects).
USER node
EXPOSE 7070
ENTRYPOINT ["node", "/app/bin/find-capacity.mjs"]
CMD ["--help"]
