CREATE SEQUENCE bench_ver START 100000;
INSERT INTO scimkit_users (tenant, id, seq, version, user_name, user_name_lower, external_id, active, created_s, created_ns, modified_s, modified_ns, resource, search, present, family_name, emails)
SELECT 'default', id, i, i, nm, nm, 'ext-'||nm, true, 1796663879, 206000000, 1796663879, 206000000,
 replace(replace(replace(replace(replace(:'res','XMAIL',nm),'XNAME',nm),'XID',id),'XFAM','Jensen'||lpad(((i*7919)%1000003)::text,7,'0')),'XNUM',i::text)::json,
 replace(replace(replace(:'sea','XLMAIL',nm),'XLFAM','jensen'||lpad(((i*7919)%1000003)::text,7,'0')),'XNUM',i::text)::jsonb,
 :'pres', 'jensen'||lpad(((i*7919)%1000003)::text,7,'0'), replace(:'ema','XLMAIL',nm)::jsonb
FROM (SELECT i, '01a2'||lpad(i::text,32,'0') AS id, 'user'||i||'@example.com' AS nm FROM generate_series(1,1000) i) s;
INSERT INTO scimkit_user_counts VALUES ('default', 0, 1000);
INSERT INTO scimkit_tenant_counters VALUES ('default', 1000) ON CONFLICT DO NOTHING;
VACUUM ANALYZE;
CHECKPOINT;
