import { createRouter, createWebHashHistory } from 'vue-router';
import { getToken } from './api';

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/screen' },
    { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
    { path: '/screen', name: 'screen', component: () => import('./views/ScreenView.vue') },
    { path: '/screen/quality', name: 'quality-screen', component: () => import('./views/QualityScreenView.vue') },
    { path: '/admin/equipment', name: 'equipment', component: () => import('./views/EquipmentView.vue') },
    { path: '/admin/devices', name: 'devices', component: () => import('./views/DevicesView.vue') },
    { path: '/admin/processing', name: 'processing', component: () => import('./views/ProcessingView.vue') },
    { path: '/alarms', name: 'alarms', component: () => import('./views/AlarmsView.vue') },
    { path: '/stops', name: 'stops', component: () => import('./views/StopsView.vue') },
    { path: '/planning', name: 'planning', component: () => import('./views/PlanningView.vue') },
    { path: '/scheduling', name: 'scheduling', component: () => import('./views/SchedulingView.vue') },
    { path: '/quality', name: 'quality', component: () => import('./views/QualityView.vue') },
    { path: '/terminal', name: 'terminal', component: () => import('./views/TerminalView.vue') },
    { path: '/:pathMatch(.*)*', redirect: '/screen' },
  ],
});

router.beforeEach((to) => {
  if (!to.meta.public && !getToken()) {
    return { name: 'login', query: { redirect: to.fullPath } };
  }
  return true;
});
