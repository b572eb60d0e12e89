/* Shared between the policy parser, its tables and the generator. */
#pragma once

#include "policy.h"

/* The known algorithms of @list, terminated by a NULL name. */
const VhPolicyAlg *vh_policy_table(VhPolicyList list);
