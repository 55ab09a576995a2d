# The SFU as a container: a build stage with the dev dependencies that `npm run build`
# needs (TypeScript, esbuild), and a runtime stage with production dependencies only.
# Media needs UDP reaching the container: see docs/DEPLOY.md (host networking, a published
# ICE_UDP_PORT_MIN/MAX range with ICE_ADVERTISE_IP, or relay-only through TURN).

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# werift's @peculiar/x509 is this local package (package.json overrides): npm ci links it.
COPY lib/werift/x509-shim ./lib/werift/x509-shim
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY server ./server
RUN npm run build

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY lib/werift/x509-shim ./lib/werift/x509-shim
RUN npm ci --omit=dev --no-fund --no-audit && npm cache clean --force
COPY --from=build /app/dist ./dist
# The demo page's static files; the browser SDK itself is served from dist/client.
COPY lib/client/demo/index.html lib/client/demo/demo.css ./lib/client/demo/
USER node
EXPOSE 5005
CMD ["node", "--max-semi-space-size=2", "--heap-growing-percent=20", "dist/server/index.js"]
