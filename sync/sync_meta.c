/*
 * sync_meta.c -- the metadata phases of a sync (MS-WSUSSS 3.2.4.2):
 * GetConfigData, the two revision lists (categories, classifications and
 * detectoids first, then updates), the documents (GetUpdateData in batches
 * of the upstream's limit, asking again for what a size-capped answer left
 * out, compressed blobs decoded), and the decryption keys
 * (GetUpdateDecryptionData). Every answer is staged as it arrives
 * (storage_stage_put); nothing here touches the published catalogue, and no
 * anchor is saved here (sync_run.c publishes them). Nothing returned needs
 * freeing by the caller beyond what the context owns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "sync_phase.h"

/*---- GetConfigData ----*/

static int child_bool(xmlNodePtr parent, const char *name, int dflt)
{
	int v;

	return protocol_soap_child_bool(parent, name, &v) == 0 ? v : dflt;
}

/* An anchor child as sent: *out NULL when absent or empty. */
static int anchor_text(xmlNodePtr parent, const char *name, char **out, struct err *e)
{
	char buf[SYNC_ANCHOR_MAX + 1];
	int rc = protocol_soap_child_text(parent, name, buf, sizeof(buf));

	*out = NULL;
	if (rc == -ENOENT || (rc == 0 && buf[0] == '\0'))
		return 0;
	if (rc < 0)
		return err_set(e, -EPROTO, "upstream %s is longer than %d characters", name, SYNC_ANCHOR_MAX);
	*out = strdup(buf);
	return *out ? 0 : err_set(e, -ENOMEM, "out of memory");
}

static void set_anchor(struct sync_ctx *c, enum sync_anchor_kind k, char *v)
{
	free(c->anchor_new[k]);
	c->anchor_new[k] = v;
}

int sync_phase_config(struct sync_ctx *c, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf args;
	xmlNodePtr res;
	char *anchor = NULL;
	int64_t v;
	int rc;

	wsus_buf_init(&args, 4096);
	rc = c->anchor_old[SYNC_ANCHOR_CONFIG] ?
		sync_xml_text(&args, "configAnchor", c->anchor_old[SYNC_ANCHOR_CONFIG]) : 0;
	if (rc == 0)
		rc = sync_call(c, SYNC_SVC_SSS, "GetConfigData", args.data, SYNC_CALL_COOKIE, &m, e);
	wsus_buf_free(&args);
	if (rc < 0)
		return rc;
	res = sync_call_result(&m, "GetConfigData");
	if (res == NULL) {
		protocol_soap_msg_free(&m);
		return err_set(e, -EPROTO, "GetConfigData answer has no GetConfigDataResult");
	}
	memset(&c->up, 0, sizeof(c->up));
	c->up.catalog_only = child_bool(res, "CatalogOnlySync", 0);
	c->up.lazy = child_bool(res, "LazySync", 0);
	c->up.hosts_psf = child_bool(res, "ServerHostsPsfFiles", 0);
	/* minOccurs=1, yet older servers omit some of these (digest 6.4). */
	c->up.max_updates = protocol_soap_child_int(res, "MaxNumberOfUpdatesPerRequest", 1, INT32_MAX, &v) == 0 ?
		(int)v : 100;
	c->up.max_keys = protocol_soap_child_int(res, "MaxUpdatesPerRequestInGetUpdateDecryptionData", 1,
						 INT32_MAX, &v) == 0 ? (int)v : 0;
	if (protocol_soap_child_text(res, "ProtocolVersion", c->up.protocol, sizeof(c->up.protocol)) < 0)
		c->up.protocol[0] = '\0';
	rc = anchor_text(res, "NewConfigAnchor", &anchor, e);
	protocol_soap_msg_free(&m);
	if (rc < 0)
		return rc;
	set_anchor(c, SYNC_ANCHOR_CONFIG, anchor);
	log_info("sync", "phase=config catalog_only=%d lazy=%d max_updates=%d max_keys=%d protocol=%s anchor=\"%s\"",
		 c->up.catalog_only, c->up.lazy, c->up.max_updates, c->up.max_keys,
		 c->up.protocol[0] ? c->up.protocol : "-",
		 c->anchor_new[SYNC_ANCHOR_CONFIG] ? c->anchor_new[SYNC_ANCHOR_CONFIG] : "");
	return 0;
}

/*---- GetUpdateData ----*/

static void urls_free(struct sync_file_url *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(u[i].mu_url);
	free(u);
}

/* A MUUrl we keep: one printable line without spaces (stored as a line). */
static int url_usable(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 2048)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int parse_urls(xmlNodePtr list, struct sync_file_url **out, size_t *n, struct err *e)
{
	struct sync_file_url *v = NULL, *nv;
	size_t cnt = 0, cap = 0;

	for (xmlNodePtr x = protocol_soap_child(list, "ServerSyncUrlData"); x != NULL; x = protocol_soap_next(x)) {
		char *digest = protocol_soap_text(protocol_soap_child(x, "FileDigest"));
		char *url = protocol_soap_text(protocol_soap_child(x, "MUUrl"));
		size_t dl = 0;
		int rc;

		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(digest);
				free(url);
				urls_free(v, cnt);
				return err_set(e, -ENOMEM, "out of memory");
			}
			v = nv;
		}
		rc = digest ? wsus_b64_decode(digest, strlen(digest), v[cnt].sha1, WSUS_SHA1_LEN, &dl) : -EINVAL;
		free(digest);
		if (rc < 0 || dl != WSUS_SHA1_LEN || url == NULL || !url_usable(url)) {
			free(url);    /* a digest without a MUUrl tells us nothing */
			continue;
		}
		v[cnt].mu_url = url;
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* The document an XmlUpdateBlob carries: its text, or (the schema-invalid
 * form of the spec's example) its element children serialised. */
static int blob_plain(xmlNodePtr blob, char **xml, size_t *len, struct err *e)
{
	xmlNodePtr ch;
	xmlChar *t;

	for (ch = blob->children; ch != NULL && ch->type != XML_ELEMENT_NODE; ch = ch->next)
		;
	if (ch != NULL) {
		xmlBufferPtr b = xmlBufferCreate();
		int rc = 0;

		if (b == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		for (ch = blob->children; ch != NULL && rc >= 0; ch = ch->next)
			if (ch->type == XML_ELEMENT_NODE)
				rc = xmlNodeDump(b, blob->doc, ch, 0, 0);
		if (rc < 0 || xmlBufferLength(b) <= 0) {
			xmlBufferFree(b);
			return err_set(e, -EPROTO, "XmlUpdateBlob could not be serialised");
		}
		*len = (size_t)xmlBufferLength(b);
		*xml = malloc(*len + 1);
		if (*xml != NULL) {
			memcpy(*xml, xmlBufferContent(b), *len);
			(*xml)[*len] = '\0';
		}
		xmlBufferFree(b);
		return *xml ? 0 : err_set(e, -ENOMEM, "out of memory");
	}
	/* The exact characters, not trimmed: the document is stored as received. */
	t = xmlNodeGetContent(blob);
	if (t == NULL || t[0] == '\0') {
		xmlFree(t);
		return err_set(e, -EPROTO, "XmlUpdateBlob is empty");
	}
	*len = strlen((const char *)t);
	*xml = strdup((const char *)t);
	xmlFree(t);
	return *xml ? 0 : err_set(e, -ENOMEM, "out of memory");
}

static int blob_of(xmlNodePtr upd, const struct sync_id *id, char **xml, size_t *len, struct err *e)
{
	xmlNodePtr plain = protocol_soap_child(upd, "XmlUpdateBlob");
	char *b64;
	int rc;

	if (plain != NULL)
		return blob_plain(plain, xml, len, e);
	b64 = protocol_soap_text(protocol_soap_child(upd, "XmlUpdateBlobCompressed"));
	if (b64 == NULL || b64[0] == '\0') {
		free(b64);
		return err_set(e, -EPROTO, "update %s/%d comes without XmlUpdateBlob or XmlUpdateBlobCompressed",
			       id->uid, id->rev);
	}
	rc = protocol_blob_decode_b64(b64, strlen(b64), xml, len, e);
	free(b64);
	if (rc < 0)
		err_prefix(e, "XmlUpdateBlobCompressed of %s/%d", id->uid, id->rev);
	return rc;
}

static int read_id(xmlNodePtr n, struct sync_id *id)
{
	char raw[64];
	int64_t rev;

	if (protocol_soap_child_text(n, "UpdateID", raw, sizeof(raw)) < 0 ||
	    wsus_guid_normalize(raw, id->uid) < 0 ||
	    protocol_soap_child_int(n, "RevisionNumber", 0, INT32_MAX, &rev) < 0)
		return -EINVAL;
	id->rev = (int)rev;
	return 0;
}

int sync_update_data_parse(xmlNodePtr result, sync_doc_fn fn, void *ctx, struct err *e)
{
	struct sync_file_url *urls = NULL;
	size_t n_urls = 0;
	int rc;

	rc = parse_urls(protocol_soap_child(result, "fileUrls"), &urls, &n_urls, e);
	if (rc < 0)
		return rc;
	for (xmlNodePtr u = protocol_soap_child(protocol_soap_child(result, "updates"), "ServerSyncUpdateData");
	     u != NULL && rc == 0; u = protocol_soap_next(u)) {
		struct sync_id id;
		char *xml = NULL;
		size_t len = 0;

		if (read_id(protocol_soap_child(u, "Id"), &id) < 0) {
			rc = err_set(e, -EPROTO, "GetUpdateData answer has an update without a valid Id");
			break;
		}
		rc = blob_of(u, &id, &xml, &len, e);
		if (rc == 0)
			rc = fn(ctx, &id, xml, len, urls, n_urls);
		free(xml);
	}
	urls_free(urls, n_urls);
	return rc;
}

/* The batch being fetched: which identities were asked and which arrived. */
struct fetch_batch {
	struct sync_ctx *c;
	const char *list;
	struct err *e;
	const struct sync_id *asked;
	size_t n_asked;
	unsigned char *got;             /* per asked identity */
	struct storage_stage_doc *docs;
	char **bufs;                    /* documents and URL lines owned by the batch */
	size_t n_docs, n_bufs;
};

static int keep(struct fetch_batch *b, char *p)
{
	b->bufs[b->n_bufs++] = p;
	return 0;
}

/* "<sha1 hex> <url>\n" for each file of u that fileUrls gives a MUUrl. */
static char *mu_lines(const struct wsus_update *u, const struct sync_file_url *urls, size_t n_urls)
{
	char hex[2 * WSUS_SHA1_LEN + 1];
	struct wsus_buf b;

	wsus_buf_init(&b, 1u << 24);
	for (size_t i = 0; i < u->n_files; i++)
		for (size_t j = 0; j < n_urls; j++)
			if (memcmp(u->files[i].sha1, urls[j].sha1, WSUS_SHA1_LEN) == 0) {
				wsus_hex_encode(urls[j].sha1, WSUS_SHA1_LEN, hex);
				if (wsus_buf_printf(&b, "%s %s\n", hex, urls[j].mu_url) < 0) {
					wsus_buf_free(&b);
					return NULL;
				}
				break;
			}
	return b.len ? wsus_buf_steal(&b, NULL) : (wsus_buf_free(&b), NULL);
}

static int on_doc(void *ctx, const struct sync_id *id, const char *xml, size_t len,
		  const struct sync_file_url *urls, size_t n_urls)
{
	struct fetch_batch *b = ctx;
	struct wsus_update *u = NULL;
	struct storage_stage_doc *d;
	struct err pe = { 0 };
	size_t i;
	char *copy;

	for (i = 0; i < b->n_asked; i++)
		if (!b->got[i] && b->asked[i].rev == id->rev && strcmp(b->asked[i].uid, id->uid) == 0)
			break;
	if (i == b->n_asked) {
		/* Never store what was not asked for. */
		log_warn("sync", "GetUpdateData sent a revision not asked for, ignored update=%s revision=%d",
			 id->uid, id->rev);
		return 0;
	}
	/* The document must parse and name the identity it was sent as (WUSP 3.1.1.1). */
	if (protocol_update_parse(xml, len, &u, &pe) < 0)
		return err_set(b->e, -EPROTO, "upstream sent an unusable document for %s/%d: %s", id->uid,
			       id->rev, pe.msg);
	if (strcmp(u->update_id, id->uid) != 0 || u->revision != id->rev) {
		err_set(b->e, -EPROTO, "upstream sent the document of %s/%d as %s/%d", u->update_id,
			u->revision, id->uid, id->rev);
		wsus_update_free(u);
		return -EPROTO;
	}
	copy = malloc(len + 1);
	if (copy == NULL) {
		wsus_update_free(u);
		return err_set(b->e, -ENOMEM, "out of memory");
	}
	memcpy(copy, xml, len);
	copy[len] = '\0';
	keep(b, copy);
	d = &b->docs[b->n_docs++];
	memset(d, 0, sizeof(*d));
	d->update_id = b->asked[i].uid;
	d->revision = id->rev;
	d->list = b->list;
	d->xml = copy;
	d->xml_len = len;
	d->mu_urls = mu_lines(u, urls, n_urls);
	if (d->mu_urls != NULL)
		keep(b, (char *)d->mu_urls);
	d->needs_keys = u->secured_fragment != NULL && strcasecmp(u->secured_fragment, "FileDecryption") == 0;
	d->cert_sha256 = sync_cert(b->c);
	d->fetched_ms = wsus_now_ms();
	b->got[i] = 1;
	wsus_update_free(u);
	return 0;
}

static void batch_reset(struct fetch_batch *b)
{
	for (size_t i = 0; i < b->n_bufs; i++)
		free(b->bufs[i]);
	b->n_bufs = 0;
	b->n_docs = 0;
}

/*---- GetUpdateProvenance (wsus-replica's extension) ----*/

#define PROV_TEXT_MAX 600  /* one field of a hop (sources are checked at 512) */

/* One <Revision>'s hops as chain lines into b; -EINVAL when a field is
 * missing or too long (the whole chain is then not kept). */
static int chain_of(xmlNodePtr rev, struct wsus_buf *b)
{
	for (xmlNodePtr h = protocol_soap_child(rev, "Hop"); h != NULL; h = protocol_soap_next(h)) {
		char src[PROV_TEXT_MAX], cert[80], when[64];

		if (protocol_soap_child_text(h, "Source", src, sizeof(src)) < 0 ||
		    protocol_soap_child_text(h, "Cert", cert, sizeof(cert)) < 0 ||
		    protocol_soap_child_text(h, "Time", when, sizeof(when)) < 0 ||
		    strpbrk(src, "\t\n") != NULL)
			return -EINVAL;
		if (wsus_buf_printf(b, "%s\t%s\t%s\n", src, cert, when) < 0)
			return -E2BIG;
	}
	return 0;
}

/* Ask a wsus-replica upstream for the provenance chains of the revisions
 * just staged, and stage them beside the documents. The request is the
 * GetUpdateData one under another name, over the same pinned connection:
 * the chain can only come from the upstream. An upstream that answers with
 * a fault (Windows WSUS, Microsoft Update: the operation is ours) is not
 * asked again in this sync; its revisions' chains start with it. */
static int fetch_provenance(struct sync_ctx *c, const struct sync_id *ids, size_t n, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf args, chain;
	struct err ce = { 0 };
	size_t kept = 0, refused = 0;
	int rc;

	if (c->provenance_off || n == 0)
		return 0;
	wsus_buf_init(&args, 1u << 24);
	rc = wsus_buf_appends(&args, "<updateIds>");
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = sync_xml_identity(&args, "UpdateIdentity", &ids[i]);
	if (rc == 0)
		rc = wsus_buf_appends(&args, "</updateIds>");
	if (rc == 0)
		rc = sync_call(c, SYNC_SVC_SSS, "GetUpdateProvenance", args.data, SYNC_CALL_COOKIE, &m, e);
	wsus_buf_free(&args);
	if (rc == -EPROTO || rc == -EIO) {
		log_notice("sync", "upstream %s keeps no provenance chain (%s): chains start with it", c->base,
			   e->msg);
		err_clear(e);
		c->provenance_off = 1;
		return 0;
	}
	if (rc < 0)
		return rc;
	wsus_buf_init(&chain, (size_t)STORAGE_CHAIN_MAX_HOPS * 1024);
	for (xmlNodePtr r = protocol_soap_child(sync_call_result(&m, "GetUpdateProvenance"), "Revision");
	     r != NULL && rc == 0; r = protocol_soap_next(r)) {
		struct sync_id id;

		chain.len = 0;
		if (read_id(r, &id) < 0 || chain_of(r, &chain) < 0 || chain.len == 0 ||
		    storage_chain_check(chain.data, &ce) < 0) {
			refused++;
			continue;
		}
		rc = storage_stage_set_provenance(c->st, id.uid, id.rev, chain.data, e);
		kept++;
	}
	wsus_buf_free(&chain);
	protocol_soap_msg_free(&m);
	if (refused > 0)
		log_warn("sync", "upstream %s sent %zu malformed provenance chains, not kept%s%s", c->base, refused,
			 ce.msg[0] ? ": " : "", ce.msg);
	log_debug("sync", "provenance asked=%zu kept=%zu", n, kept);
	return rc;
}

/* One GetUpdateData call for asked[0..n): the documents it returned are staged. */
static int fetch_once(struct fetch_batch *b, size_t *returned, struct err *e)
{
	struct sync_ctx *c = b->c;
	struct protocol_soap_msg m;
	struct wsus_buf args;
	xmlNodePtr res;
	int rc;

	wsus_buf_init(&args, 1u << 24);
	rc = wsus_buf_appends(&args, "<updateIds>");
	for (size_t i = 0; i < b->n_asked && rc == 0; i++)
		rc = sync_xml_identity(&args, "UpdateIdentity", &b->asked[i]);
	if (rc == 0)
		rc = wsus_buf_appends(&args, "</updateIds>");
	if (rc == 0)
		rc = sync_call(c, SYNC_SVC_SSS, "GetUpdateData", args.data, SYNC_CALL_COOKIE, &m, e);
	wsus_buf_free(&args);
	if (rc < 0)
		return rc;
	c->res->batches++;
	res = sync_call_result(&m, "GetUpdateData");
	memset(b->got, 0, b->n_asked);
	b->e = e;
	rc = res ? sync_update_data_parse(res, on_doc, b, e) :
		err_set(e, -EPROTO, "GetUpdateData answer has no GetUpdateDataResult");
	protocol_soap_msg_free(&m);
	if (rc == 0)
		rc = storage_stage_put(c->st, c->base, b->docs, b->n_docs, e);
	if (rc == 0 && b->n_docs > 0)
		rc = fetch_provenance(c, b->asked, b->n_asked, e);
	*returned = rc == 0 ? b->n_docs : 0;
	batch_reset(b);
	return rc;
}

static size_t batch_size(const struct sync_ctx *c)
{
	size_t n = c->up.max_updates > 0 ? (size_t)c->up.max_updates : 100;

	if (c->cfg->sy_batch > 0 && (size_t)c->cfg->sy_batch < n)
		n = (size_t)c->cfg->sy_batch;
	return n > SYNC_BATCH_MAX ? SYNC_BATCH_MAX : n;
}

int sync_fetch(struct sync_ctx *c, const char *list, const struct sync_ids *ids, struct err *e)
{
	size_t per = batch_size(c), done = 0, first = 0, returned;
	unsigned char *have = calloc(ids->n + 1, 1);
	struct sync_id *asked = calloc(per, sizeof(*asked));
	struct fetch_batch b = { .c = c, .list = list };
	size_t *slot = calloc(per, sizeof(*slot));
	int rc = 0;

	b.got = calloc(per, 1);
	b.docs = calloc(per, sizeof(*b.docs));
	b.bufs = calloc(2 * per, sizeof(*b.bufs));
	if (have == NULL || asked == NULL || slot == NULL || b.got == NULL || b.docs == NULL || b.bufs == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	b.asked = asked;
	while (done < ids->n && rc == 0) {
		/* The next identities still missing; those a capped answer left out come first again. */
		b.n_asked = 0;
		while (first < ids->n && have[first])
			first++;
		for (size_t i = first; i < ids->n && b.n_asked < per; i++)
			if (!have[i]) {
				slot[b.n_asked] = i;
				asked[b.n_asked++] = ids->v[i];
			}
		rc = fetch_once(&b, &returned, e);
		if (rc < 0)
			break;
		if (returned == 0) {
			rc = err_set(e, -EPROTO, "upstream returned none of the %zu revisions asked for (first %s/%d)",
				     b.n_asked, asked[0].uid, asked[0].rev);
			break;
		}
		for (size_t i = 0; i < b.n_asked; i++)
			if (b.got[i]) {
				have[slot[i]] = 1;
				done++;
			}
		if (returned < b.n_asked)
			log_info("sync", "GetUpdateData answered %zu of %zu revisions, asking again for the rest",
				 returned, b.n_asked);
		c->res->fetched += returned;
		sync_progress(c, list, done, ids->n);
	}
out:
	batch_reset(&b);
	free(b.got);
	free(b.docs);
	free(b.bufs);
	free(slot);
	free(asked);
	free(have);
	return rc;
}

/*---- GetRevisionIdList ----*/

/* The comma-separated GUIDs of a [sync] products/classifications setting. */
static int split_guids(const char *text, struct sync_ids *out)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char raw[64], guid[WSUS_GUID_LEN];

		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0 && n < sizeof(raw)) {
			memcpy(raw, p, n);
			raw[n] = '\0';
			if (wsus_guid_normalize(raw, guid) == 0 && sync_ids_add(out, guid, 0) < 0)
				return -ENOMEM;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

struct kind_walk {
	struct sync_ids *ids;
	int classifications;            /* 1: UpdateClassification, 0: products and families */
};

static int add_kind(const struct storage_revision_row *r, void *ctx)
{
	struct kind_walk *w = ctx;
	int is_cls = strcmp(r->category_type, "UpdateClassification") == 0;
	int is_prod = strcmp(r->category_type, "Product") == 0 || strcmp(r->category_type, "ProductFamily") == 0 ||
		      strcmp(r->category_type, "Company") == 0;

	if (!r->is_latest || (w->classifications ? !is_cls : !is_prod))
		return 0;
	return sync_ids_add(w->ids, r->update_id, 0);
}

static int put_id_deltas(struct wsus_buf *b, const char *name, const struct sync_ids *ids, int delta)
{
	int rc = wsus_buf_printf(b, "<%s>", name);

	for (size_t i = 0; i < ids->n && rc == 0; i++)
		rc = wsus_buf_printf(b, "<IdAndDelta><Id>%s</Id><Delta>%s</Delta></IdAndDelta>", ids->v[i].uid,
				     delta ? "true" : "false");
	if (rc == 0)
		rc = wsus_buf_printf(b, "</%s>", name);
	return rc;
}

/* Categories/Classifications of the updates filter. MS-WSUSSS 3.1.4.5 wants
 * both lists when either is given, so the unset one is every known category
 * of its kind. delta = 0 while the setting differs from the last published
 * sync's, so that a newly selected product comes in full. */
static int filter_lists(struct sync_ctx *c, struct wsus_buf *b, struct err *e)
{
	const struct wsus_config *cfg = c->cfg;
	struct sync_ids cats = { 0 }, clss = { 0 };
	struct kind_walk w;
	char *last = NULL, text[8192];
	int rc = 0, delta;

	if (cfg->sy_products == NULL && cfg->sy_classifications == NULL)
		return 0;
	snprintf(text, sizeof(text), "%s|%s", cfg->sy_products ? cfg->sy_products : "",
		 cfg->sy_classifications ? cfg->sy_classifications : "");
	delta = storage_state_get(c->st, "sync.filter", &last) == 0 && strcmp(last, text) == 0;
	free(last);
	if (split_guids(cfg->sy_products, &cats) < 0 || split_guids(cfg->sy_classifications, &clss) < 0)
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc == 0 && (cats.n == 0 || clss.n == 0)) {
		w.ids = cats.n == 0 ? &cats : &clss;
		w.classifications = cats.n != 0;
		rc = storage_revision_foreach(c->st, add_kind, &w, e);
	}
	if (rc == 0 && cats.n > 0 && clss.n > 0) {
		rc = put_id_deltas(b, "Categories", &cats, delta);
		if (rc == 0)
			rc = put_id_deltas(b, "Classifications", &clss, delta);
		if (rc < 0)
			err_set(e, rc, "filter too large");
	}
	sync_ids_free(&cats);
	sync_ids_free(&clss);
	return rc;
}

static int list_request(struct sync_ctx *c, int config, const char *anchor,
			struct protocol_soap_msg *m, struct err *e)
{
	struct wsus_buf args;
	int rc;

	wsus_buf_init(&args, 1u << 22);
	rc = wsus_buf_appends(&args, "<filter>");
	if (rc == 0 && anchor != NULL)
		rc = sync_xml_text(&args, "Anchor", anchor);
	if (rc == 0)
		rc = wsus_buf_printf(&args, "<GetConfig>%s</GetConfig><Get63LanguageOnly>false</Get63LanguageOnly>",
				     config ? "true" : "false");
	if (rc == 0 && !config)
		rc = filter_lists(c, &args, e);
	if (rc == 0)
		rc = wsus_buf_appends(&args, "</filter>");
	if (rc == 0)
		rc = sync_call(c, SYNC_SVC_SSS, "GetRevisionIdList", args.data, SYNC_CALL_COOKIE, m, e);
	wsus_buf_free(&args);
	return rc;
}

/* Identities of the answer that are neither staged nor published. */
static int wanted_ids(struct sync_ctx *c, xmlNodePtr res, struct sync_ids *want, size_t *listed,
		      size_t *resumed, struct err *e)
{
	xmlNodePtr list = protocol_soap_child(res, "NewRevisions");
	int rc = 0;

	for (xmlNodePtr x = protocol_soap_child(list, "UpdateIdentity"); x != NULL && rc == 0;
	     x = protocol_soap_next(x)) {
		struct sync_id id;
		int staged = 0, published = 0;

		if (read_id(x, &id) < 0)
			return err_set(e, -EPROTO, "GetRevisionIdList answer holds a malformed UpdateIdentity");
		(*listed)++;
		rc = storage_sync_have(c->st, id.uid, id.rev, &staged, &published, e);
		if (rc < 0 || published)
			continue;
		if (staged) {
			(*resumed)++;
			continue;
		}
		rc = sync_ids_add(want, id.uid, id.rev);
		if (rc < 0)
			err_set(e, rc, "out of memory");
	}
	return rc;
}

int sync_phase_list(struct sync_ctx *c, int config, struct err *e)
{
	enum sync_anchor_kind k = config ? SYNC_ANCHOR_CATEGORIES : SYNC_ANCHOR_UPDATES;
	const char *anchor = c->anchor_old[k], *name = config ? "categories" : "updates";
	struct protocol_soap_msg m;
	struct sync_ids want = { 0 };
	size_t listed = 0, resumed = 0, batches = c->res->batches, fetched = c->res->fetched;
	xmlNodePtr res;
	char *got = NULL;
	int rc;

	rc = list_request(c, config, anchor, &m, e);
	if (rc == -EPROTO && anchor != NULL && strcmp(c->fault, "InvalidParameters") == 0) {
		/* "MAY retry with valid parameters" (2.2.9.3): the one we chose is our anchor. */
		log_warn("sync", "upstream refused the %s anchor (%s), asking for the full list anchor=\"%s\"",
			 name, c->fault_msg[0] ? c->fault_msg : "InvalidParameters", anchor);
		anchor = NULL;
		rc = list_request(c, config, NULL, &m, e);
	}
	if (rc < 0)
		return rc;
	res = sync_call_result(&m, "GetRevisionIdList");
	if (res == NULL) {
		protocol_soap_msg_free(&m);
		return err_set(e, -EPROTO, "GetRevisionIdList answer has no GetRevisionIdListResult");
	}
	rc = anchor_text(res, "Anchor", &got, e);
	set_anchor(c, k, got);
	if (rc == 0 && c->anchor_new[k] == NULL)
		rc = err_set(e, -EPROTO, "GetRevisionIdList answer has no Anchor");
	if (rc == 0)
		rc = wanted_ids(c, res, &want, &listed, &resumed, e);
	protocol_soap_msg_free(&m);
	c->res->listed += listed;
	c->res->resumed += resumed;
	if (rc == 0 && want.n > 0)
		rc = sync_fetch(c, name, &want, e);
	sync_progress_end(c);
	if (rc == 0)
		log_info("sync", "phase=%s listed=%zu fetched=%zu resumed=%zu batches=%zu delta=%s anchor=\"%s\"",
			 name, listed, c->res->fetched - fetched, resumed, c->res->batches - batches,
			 anchor ? "yes" : "no", c->anchor_new[k]);
	sync_ids_free(&want);
	return rc;
}

/*---- GetUpdateDecryptionData ----*/

/* "<sha1 hex> <key base64>\n" for each FileDecryptionData entry with a key. */
static int key_lines(xmlNodePtr upd, struct wsus_buf *b)
{
	xmlNodePtr list = protocol_soap_child(upd, "FileDecryptionData");
	int rc = 0;

	for (xmlNodePtr f = protocol_soap_child(list, "ServerSyncFileDecryption"); f != NULL && rc == 0;
	     f = protocol_soap_next(f)) {
		char *digest = protocol_soap_text(protocol_soap_child(f, "FileDigest"));
		char *key = protocol_soap_text(protocol_soap_child(f, "DecryptionKey"));
		uint8_t sha1[WSUS_SHA1_LEN], probe[4096];
		char hex[2 * WSUS_SHA1_LEN + 1];
		size_t n = 0, kn = 0;

		if (digest != NULL && key != NULL && key[0] != '\0' &&
		    wsus_b64_decode(digest, strlen(digest), sha1, sizeof(sha1), &n) == 0 && n == WSUS_SHA1_LEN &&
		    wsus_b64_decode(key, strlen(key), probe, sizeof(probe), &kn) == 0 && kn > 0) {
			wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
			rc = wsus_buf_printf(b, "%s %s\n", hex, key);
		}
		free(digest);
		free(key);
	}
	return rc;
}

static int keys_batch(struct sync_ctx *c, const struct storage_stage_id *ids, size_t n, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf args, lines;
	unsigned char *answered = calloc(n ? n : 1, 1);
	int rc;

	if (answered == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	wsus_buf_init(&args, 1u << 20);
	wsus_buf_init(&lines, 1u << 24);
	rc = wsus_buf_appends(&args, "<updateIds>");
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct sync_id id;

		snprintf(id.uid, sizeof(id.uid), "%s", ids[i].update_id);
		id.rev = ids[i].revision;
		rc = sync_xml_identity(&args, "UpdateIdentity", &id);
	}
	if (rc == 0)
		rc = wsus_buf_appends(&args, "</updateIds>");
	if (rc == 0)
		rc = sync_call(c, SYNC_SVC_SSS, "GetUpdateDecryptionData", args.data, SYNC_CALL_COOKIE, &m, e);
	wsus_buf_free(&args);
	if (rc < 0)
		goto out;
	for (xmlNodePtr u = protocol_soap_child(protocol_soap_child(sync_call_result(&m, "GetUpdateDecryptionData"),
								    "UpdateFileDecryptionData"),
						"ServerSyncUpdateFileDecryption");
	     u != NULL && rc == 0; u = protocol_soap_next(u)) {
		struct sync_id id;

		if (read_id(protocol_soap_child(u, "UpdateId"), &id) < 0)
			continue;
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (answered[i] || ids[i].revision != id.rev || strcmp(ids[i].update_id, id.uid) != 0)
				continue;
			lines.len = 0;
			rc = key_lines(u, &lines);
			if (rc == 0)
				rc = storage_stage_set_keys(c->st, id.uid, id.rev, lines.len ? lines.data : "", e);
			answered[i] = 1;
		}
	}
	protocol_soap_msg_free(&m);
	/* Not answered: the upstream knows no key; recorded so we do not ask forever. */
	for (size_t i = 0; i < n && rc == 0; i++)
		if (!answered[i])
			rc = storage_stage_set_keys(c->st, ids[i].update_id, ids[i].revision, "", e);
out:
	wsus_buf_free(&lines);
	free(answered);
	return rc;
}

int sync_phase_keys(struct sync_ctx *c, struct err *e)
{
	struct storage_stage_id *ids = NULL;
	size_t n = 0, per, batches = 0;
	int rc = storage_stage_need_keys(c->st, &ids, &n, e);

	if (rc < 0 || n == 0) {
		free(ids);
		return rc;
	}
	if (c->up.max_keys <= 0) {
		log_warn("sync", "upstream does not offer GetUpdateDecryptionData: %zu revisions keep no"
			 " decryption key", n);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = storage_stage_set_keys(c->st, ids[i].update_id, ids[i].revision, "", e);
		free(ids);
		return rc;
	}
	per = (size_t)c->up.max_keys < SYNC_KEYS_BATCH_MAX ? (size_t)c->up.max_keys : SYNC_KEYS_BATCH_MAX;
	for (size_t i = 0; i < n && rc == 0; i += per, batches++)
		rc = keys_batch(c, ids + i, n - i < per ? n - i : per, e);
	free(ids);
	if (rc == 0)
		log_info("sync", "phase=keys revisions=%zu batches=%zu", n, batches);
	return rc;
}
