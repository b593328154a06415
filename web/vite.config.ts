import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The Rust server serves `dist/` and the API from the same origin, so the
// app uses relative `/api/v1/...` paths. In development, Vite proxies them
// (HTTP and WebSocket) to a locally running backend (`ZHIZAO_DEV_API` overrides
// the default http://127.0.0.1:8080). `vite preview` uses the same proxy.
const apiTarget = process.env.ZHIZAO_DEV_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: './',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // ECharts alone is ~550 kB minified; it is only loaded by the screen view.
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      '/api': {
        target: apiTarget,
        ws: true,
      },
    },
  },
});
