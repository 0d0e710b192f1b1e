import { describe, expect, it } from 'vitest';
import { Router } from './router.ts';

const router = new Router<string>()
  .add('GET', '/api/contacts', 'list')
  .add('POST', '/api/contacts', 'create')
  .add('GET', '/api/contacts/:id', 'read')
  .add('DELETE', '/api/contacts/:id', 'delete');

describe('Router', () => {
  it('matches a template and captures its parameters, reporting the template as route', () => {
    expect(router.match('GET', '/api/contacts/42')).toEqual({ kind: 'matched', route: '/api/contacts/:id', handler: 'read', params: { id: '42' } });
    expect(router.match('POST', '/api/contacts')).toEqual({ kind: 'matched', route: '/api/contacts', handler: 'create', params: {} });
  });

  it('tells a wrong method (with the allowed ones) from an unknown path', () => {
    expect(router.match('PUT', '/api/contacts/42')).toEqual({ kind: 'method-not-allowed', route: '/api/contacts/:id', allow: ['GET', 'DELETE'] });
    expect(router.match('GET', '/api/contacts/42/notes')).toEqual({ kind: 'not-found' });
    expect(router.match('GET', '/api/contacts/')).toEqual({ kind: 'not-found' });
    expect(router.match('GET', '/api')).toEqual({ kind: 'not-found' });
  });
});
