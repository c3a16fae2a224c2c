import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The SPA is served by services/api under `/`; `npm run dev -w @z4j/dashboard` proxies the API of a local `z4j serve`.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  // Workspace packages (the purge confirm token of @z4j/protocol) are bundled from their TypeScript sources.
  resolve: { conditions: ['@z4j/source', 'import', 'module', 'browser', 'default'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Hashed file names under assets/: the API serves them as immutable.
    assetsDir: 'assets',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:7700',
      '/ws': { target: 'ws://127.0.0.1:7700', ws: true },
    },
  },
});
