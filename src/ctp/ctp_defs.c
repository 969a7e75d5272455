/*
 * ctp_defs.c: look-ups over the tables generated from proto/cxtp.def.
 * The tables are small; linear scans keep this obvious.
 */
#include <string.h>
#include <strings.h>

#include "ctp/ctp_defs.h"

const struct ctp_msg_def *
ctp_msg_def(unsigned type)
{
	if (type == 0 || type > CTP_MSG_MAX || ctp_msg_defs[type].name == NULL)
		return NULL;
	return &ctp_msg_defs[type];
}

const char *
ctp_msg_name(unsigned type)
{
	const struct ctp_msg_def *d = ctp_msg_def(type);

	return d ? d->wire : NULL;
}

int
ctp_msg_type_by_name(const char *name)
{
	for (unsigned t = 1; t <= CTP_MSG_MAX; t++) {
		const struct ctp_msg_def *d = ctp_msg_def(t);

		if (d && (strcasecmp(name, d->wire) == 0 || strcasecmp(name, d->name) == 0))
			return (int)t;
	}
	return -1;
}

const char *
ctp_code_name(const struct ctp_code_def *tab, unsigned code)
{
	for (; tab && tab->name; tab++)
		if (tab->code == code)
			return tab->name;
	return NULL;
}

int
ctp_code_by_name(const struct ctp_code_def *tab, const char *name)
{
	for (; tab && tab->name; tab++)
		if (strcasecmp(tab->name, name) == 0)
			return (int)tab->code;
	return -1;
}

const char *
ctp_status_name(unsigned code)
{
	return ctp_code_name(ctp_status_defs, code);
}

const char *
ctp_status_desc(unsigned code)
{
	for (const struct ctp_code_def *s = ctp_status_defs; s->name; s++)
		if (s->code == code)
			return s->desc;
	return NULL;
}

int
ctp_status_by_name(const char *name)
{
	return ctp_code_by_name(ctp_status_defs, name);
}

const struct ctp_fpt_def *
ctp_fpt_def(uint16_t fpt)
{
	for (const struct ctp_fpt_def *f = ctp_fpt_defs; f->name; f++)
		if (f->fpt == fpt)
			return f;
	return NULL;
}

const struct ctp_tlv_def *
ctp_tlv_def(const struct ctp_fpt_def *fd, uint16_t type)
{
	for (size_t i = 0; fd && i < fd->ntlvs; i++)
		if (fd->tlvs[i].type == type)
			return &fd->tlvs[i];
	return NULL;
}

const struct ctp_tlv_def *
ctp_tlv_def_by_name(const struct ctp_fpt_def *fd, const char *name)
{
	for (size_t i = 0; fd && i < fd->ntlvs; i++)
		if (strcasecmp(fd->tlvs[i].name, name) == 0)
			return &fd->tlvs[i];
	return NULL;
}

const struct ctp_code_def *
ctp_enum(const char *name)
{
	for (const struct ctp_enum_def *e = ctp_enum_defs; e->name; e++)
		if (strcmp(e->name, name) == 0)
			return e->values;
	return NULL;
}
