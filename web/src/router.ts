import { createRouter, createWebHashHistory } from 'vue-router';
import { getToken } from './api';
import LoginView from './views/LoginView.vue';
import ScreenView from './views/ScreenView.vue';
import EquipmentView from './views/EquipmentView.vue';

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/screen' },
    { path: '/login', name: 'login', component: LoginView, meta: { public: true } },
    { path: '/screen', name: 'screen', component: ScreenView },
    { path: '/admin/equipment', name: 'equipment', component: EquipmentView },
    { path: '/:pathMatch(.*)*', redirect: '/screen' },
  ],
});

router.beforeEach((to) => {
  if (!to.meta.public && !getToken()) {
    return { name: 'login', query: { redirect: to.fullPath } };
  }
  return true;
});
