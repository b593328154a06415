import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router';
import { onUnauthorized } from './api';
import './styles.css';

onUnauthorized(() => {
  const current = router.currentRoute.value;
  if (current.name !== 'login') {
    void router.push({ name: 'login', query: { redirect: current.fullPath } });
  }
});

createApp(App).use(router).mount('#app');
